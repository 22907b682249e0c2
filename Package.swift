// swift-tools-version: 6.1
import PackageDescription

// Settings shared by every target (as swift-nio and swift-certificates do): strict concurrency is
// implied by the Swift 6 language mode; imports must be explicit.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "spike-swift",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "spike", targets: ["Tools"]),
        .library(name: "EventLog", targets: ["EventLog"]),
        .library(name: "SPIFFE", targets: ["SPIFFE", "SPIFFETLS", "SPIFFEWorkloadAPI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        // /metrics: swift-metrics with the Prometheus backend.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.9.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The event log in PostgreSQL, for several Nexus replicas (docs/adr/0015).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
    ],
    targets: [
        // Debian's liblmdb-dev, found with pkg-config `lmdb`.
        .systemLibrary(
            name: "CLMDB",
            pkgConfig: "lmdb",
            providers: [.apt(["liblmdb-dev"])]
        ),
        // Debian's libcrypto (OpenSSL 3), for the bulk AES-GCM and SHA-256 of records: reusable
        // EVP contexts keep the per-record cost near the hardware's (docs/adr/0002).
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(
            name: "EventLog",
            dependencies: [
                "CLMDB",
                "CLibCrypto",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // The same event store in PostgreSQL tables, on postgres-nio: several Nexus replicas
        // share one log (docs/adr/0015).
        .target(
            name: "PostgresEventStore",
            dependencies: [
                "EventLog",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        // SPIFFE identity: IDs, X.509-SVIDs, bundles, validation, authorizers. Depends on nothing
        // of ours, so it can be published on its own.
        .target(
            name: "SPIFFE",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strictSettings
        ),
        // Mutual TLS between SPIFFE workloads over swift-nio-ssl.
        .target(
            name: "SPIFFETLS",
            dependencies: [
                "SPIFFE",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strictSettings
        ),
        // The SPIFFE Workload API over gRPC on a Unix socket: client source and server.
        .target(
            name: "SPIFFEWorkloadAPI",
            dependencies: [
                "SPIFFE",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: strictSettings
        ),
        // Debian's RE2 (libre2-dev) behind four C functions: policy patterns in Go's syntax,
        // matched in linear time (docs/adr/0011).
        .target(
            name: "CRE2",
            linkerSettings: [.linkedLibrary("re2")]
        ),
        // What Swift's Glibc module does not reach: malloc tuning, core dumps (prctl, rlimit), spawning.
        .target(name: "CProcessControl"),
        // Child processes started and waited for without Foundation's Process (see ChildProcess).
        .target(name: "ChildProcesses", dependencies: ["CProcessControl"], swiftSettings: strictSettings),
        // Shamir's secret sharing over GF(2^8), constant time; depends on nothing.
        .target(
            name: "SecretSharing",
            swiftSettings: strictSettings
        ),
        .target(
            name: "Projections",
            dependencies: [
                "EventLog",
                "CRE2",
                "SecretSharing",
                "CLibCrypto",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // The wire contract shared by the server and the `spike` client: routes, request and
        // response bodies, error codes. Depends on nothing of ours.
        .target(
            name: "SpikeAPI",
            swiftSettings: strictSettings
        ),
        // The `spike` client's side of the API: HTTP/1.1 over SPIFFE mutual TLS and the typed
        // calls of SPIKE's routes. Knows the wire contract, not the server.
        .target(
            name: "SpikeClient",
            dependencies: [
                "SpikeAPI",
                "SPIFFE",
                "SPIFFETLS",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),
        // Every decision of the Nexus, with no NIO, no LMDB and no clock of its own: the
        // lifecycle machine and its driver, the data plane's decisions, authorization, the
        // classification of Keeper answers.
        .target(
            name: "NexusCore",
            dependencies: [
                "Projections",
                "EventLog",
                "SecretSharing",
                "SPIFFE",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // The Nexus and the Keeper: the adapters that run NexusCore against real effects (HTTP
        // over SPIFFE mutual TLS, the poller, the log, the clocks).
        .target(
            name: "Nodes",
            dependencies: [
                "NexusCore",
                "PostgresEventStore",
                "SpikeAPI",
                "SpikeClient",
                "Projections",
                "EventLog",
                "SecretSharing",
                "SPIFFE",
                "SPIFFETLS",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "Tools",
            dependencies: [
                "EventLog",
                "PostgresEventStore",
                "CProcessControl",
                "ChildProcesses",
                "SPIFFE",
                "SPIFFETLS",
                "SPIFFEWorkloadAPI",
                "Projections",
                "NexusCore",
                "SpikeAPI",
                "SpikeClient",
                "Nodes",
                "SecretSharing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // The fuzzing targets (docs/adr/0014): each input decoder with the invariants it must keep.
        .target(
            name: "FuzzTargets",
            dependencies: [
                "CLMDB", "EventLog", "Projections", "NexusCore", "Nodes", "SPIFFE", "SpikeAPI",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Their libFuzzer binary under `scripts/fuzz`; in a normal build, the replayer of inputs.
        .executableTarget(
            name: "SpikeFuzz",
            dependencies: ["FuzzTargets", "EventLog", .product(name: "Crypto", package: "swift-crypto")],
            path: "Fuzz/SpikeFuzz",
            swiftSettings: strictSettings
        ),
        // Benchmarks live outside Sources: built in release mode by `scripts/bench`.
        .executableTarget(
            name: "LogBench",
            dependencies: [
                "EventLog",
                "Projections",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Benchmarks/LogBench",
            swiftSettings: strictSettings
        ),
        // `scripts/bench pg`: the PostgreSQL store's appends against an insert loop, its replay.
        .executableTarget(
            name: "PGBench",
            dependencies: [
                "EventLog", "PostgresEventStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Benchmarks/PGBench",
            swiftSettings: strictSettings
        ),
        // The load generator of `scripts/bench api`: keep-alive connections over SPIFFE mutual TLS.
        .executableTarget(
            name: "APIBench",
            dependencies: ["SpikeClient", "SPIFFE", "SPIFFETLS", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio")],
            path: "Benchmarks/APIBench",
            swiftSettings: strictSettings
        ),
        // A child process for the crash tests: appends in a loop and prints each acknowledged
        // sequence until it is killed.
        .executableTarget(
            name: "LogCrashChild",
            dependencies: ["EventLog", .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/LogCrashChild",
            swiftSettings: strictSettings
        ),
        // The log's format and guarantees; the cases every event store must pass run against LMDB
        // and a private PostgreSQL (`StoreContractTests`).
        .testTarget(
            name: "EventLogTests",
            dependencies: [
                "EventLog",
                "ChildProcesses",
                "PostgresEventStore",
                "CLMDB",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SPIFFETests",
            dependencies: [
                "SPIFFE",
                "ChildProcesses",
                "SPIFFETLS",
                "SPIFFEWorkloadAPI",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strictSettings
        ),
        // Runs the real `spike` executable.
        .testTarget(
            name: "ToolsTests",
            dependencies: ["SPIFFE", "Tools", "ChildProcesses", "EventLog", "PostgresEventStore", "Projections", "NexusCore", .product(name: "X509", package: "swift-certificates")],
            swiftSettings: strictSettings
        ),
        // Every kept fuzzing input (seeds and the inputs of crashes found) replayed.
        .testTarget(
            name: "FuzzTargetsTests",
            dependencies: ["FuzzTargets"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SecretSharingTests",
            dependencies: ["SecretSharing"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ProjectionsTests",
            dependencies: ["Projections", "EventLog", "SecretSharing", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        // The core's decisions, without I/O.
        .testTarget(
            name: "NexusCoreTests",
            dependencies: ["NexusCore", "Projections", "EventLog", "SecretSharing", "SPIFFE", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        // The deterministic simulator running the production driver; the adapters over real
        // mutual TLS.
        .testTarget(
            name: "NodesTests",
            dependencies: [
                "Nodes", "NexusCore", "SpikeAPI", "SpikeClient", "Projections", "EventLog", "PostgresEventStore", "SecretSharing", "SPIFFE",
                "SPIFFETLS", "ChildProcesses",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
