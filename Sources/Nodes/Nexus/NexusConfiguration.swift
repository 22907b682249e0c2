import Foundation
import PostgresEventStore
import Projections
import SpikeAPI

/// The Nexus' settings, from SPIKE's environment variables (reference §9) plus this project's
/// `SPIKE_NEXUS_KEEPER_POLL_INTERVAL`. Every bad value is refused with the variable's name:
/// SPIKE silently falls back to defaults, which hides typos.
public struct NexusConfiguration: Sendable {
    /// `host:port` to listen on (`SPIKE_NEXUS_TLS_PORT`, default `:8553`).
    public var listen: (host: String, port: Int)
    /// Keeper base URLs; position = share index (`SPIKE_NEXUS_KEEPER_PEERS`).
    public var keepers: [String]
    public var shares: Int
    public var threshold: Int
    public var pollInterval: Duration
    /// How long a poll or a contribution may take before it counts as unreachable (a third of a
    /// poll interval less than it, and at most 3 s: a poll never overlaps the next).
    public var keeperTimeout: Duration
    /// The Nexus' own files (its audit key; the log too, unless it lives in PostgreSQL).
    public var dataDirectory: String
    /// Where the log is: LMDB in the data directory (`SPIKE_NEXUS_BACKEND_STORE=lmdb`, the
    /// default) or PostgreSQL (`postgres`, with `SPIKE_NEXUS_POSTGRES_URL`).
    public var store: LogStoreLocation = .lmdb
    /// The name this Nexus runs under as one replica of a shared log (`SPIKE_NEXUS_REPLICA`):
    /// its lane in the log, where its starts, stops and crashes are counted. Unset: the name kept
    /// in the data directory (`replica`, made at the first start).
    public var replica: String?
    /// Versions kept per secret (`SPIKE_NEXUS_MAX_SECRET_VERSIONS`, default 10).
    public var maxSecretVersions = 10
    /// When snapshots of the data are written (`SPIKE_NEXUS_SNAPSHOT_EVERY` records, default
    /// 10000, and `SPIKE_NEXUS_SNAPSHOT_INTERVAL`, default 5m; and at a clean stop); nil when
    /// `SPIKE_NEXUS_SNAPSHOT_EVERY=0`: every start folds the whole log.
    public var snapshots: SnapshotPolicy? = SnapshotPolicy()
    /// The largest cipher plaintext or ciphertext (`SPIKE_NEXUS_CRYPTO_MAX_CIPHERTEXT_SIZE`, 65536).
    public var maxCipherSize = 65536
    /// scrypt's cost for the admin password wraps this Nexus makes (OWASP's minimum; tests lower it).
    public var passwordCost: PasswordWrap.Cost = .standard
    /// The wait after five wrong passwords, doubling with each further one (tests lengthen it).
    public var firstPasswordWait: Duration = .seconds(1)
    /// `spike nexus --accept-log-head SEQ`: a log whose head is SEQ is served even though a Keeper
    /// witnessed a later or another head (a restore from a backup); recorded as `LogHeadAccepted`
    /// by `logHeadAcceptedBy`.
    public var acceptLogHead: UInt64?
    public var logHeadAcceptedBy = "spike nexus --accept-log-head"

    public init(listen: (host: String, port: Int), keepers: [String], shares: Int, threshold: Int, pollInterval: Duration, dataDirectory: String) {
        self.listen = listen
        self.keepers = keepers
        self.shares = shares
        self.threshold = threshold
        self.pollInterval = pollInterval
        keeperTimeout = min(.seconds(3), pollInterval * 0.8)
        self.dataDirectory = dataDirectory
    }

    /// The largest request body the API reads: 1 MiB, or more when the cipher limit needs it
    /// (base64 in JSON: 4/3).
    public var maxBodySize: Int { max(1 << 20, maxCipherSize / 3 * 4 + 4096) }

    /// The server's limits: handshake and idle timeouts, connections at once, and of those still
    /// in their handshake (`SPIKE_NEXUS_TLS_HANDSHAKE_TIMEOUT`, `SPIKE_NEXUS_IDLE_TIMEOUT`,
    /// `SPIKE_NEXUS_MAX_CONNECTIONS`, `SPIKE_NEXUS_MAX_TLS_HANDSHAKES`).
    public var handshakeTimeout: Duration = .seconds(10)
    public var idleTimeout: Duration = .seconds(120)
    public var maxConnections = 1024
    public var maxHandshakes = 128

    public var serverLimits: HTTPServerLimits {
        HTTPServerLimits(maxBodySize: maxBodySize, handshakeTimeout: handshakeTimeout, idleTimeout: idleTimeout, maxConnections: maxConnections,
                         maxHandshakes: maxHandshakes)
    }

    public static func fromEnvironment(_ environment: [String: String]) throws(ConfigurationError) -> NexusConfiguration {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let listen = try ListenAddress.parse(value("SPIKE_NEXUS_TLS_PORT") ?? ":8553", variable: "SPIKE_NEXUS_TLS_PORT")
        guard let peers = value("SPIKE_NEXUS_KEEPER_PEERS") else {
            throw .invalid("SPIKE_NEXUS_KEEPER_PEERS", "is not set: list the Keepers, e.g. https://localhost:8443,https://localhost:8543,https://localhost:8643")
        }
        let keepers = peers.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        for keeper in keepers {
            guard let url = URLComponents(string: keeper), url.scheme == "https", let host = url.host, !host.isEmpty else {
                throw .invalid("SPIKE_NEXUS_KEEPER_PEERS", "has \"\(keeper)\", which is not an https://host:port URL")
            }
        }
        guard Set(keepers).count == keepers.count else { throw .invalid("SPIKE_NEXUS_KEEPER_PEERS", "names a Keeper twice") }
        let shares = try integer(value("SPIKE_NEXUS_SHAMIR_SHARES"), "SPIKE_NEXUS_SHAMIR_SHARES", default: 3)
        let threshold = try integer(value("SPIKE_NEXUS_SHAMIR_THRESHOLD"), "SPIKE_NEXUS_SHAMIR_THRESHOLD", default: 2)
        guard (1...255).contains(shares) else { throw .invalid("SPIKE_NEXUS_SHAMIR_SHARES", "must be 1…255") }
        guard (1...shares).contains(threshold) else { throw .invalid("SPIKE_NEXUS_SHAMIR_THRESHOLD", "must be 1…\(shares) (the number of shares)") }
        guard keepers.count == shares else {
            throw .invalid("SPIKE_NEXUS_KEEPER_PEERS", "names \(keepers.count) Keepers but SPIKE_NEXUS_SHAMIR_SHARES is \(shares): one share per Keeper")
        }
        let interval: Duration
        if let text = value("SPIKE_NEXUS_KEEPER_POLL_INTERVAL") {
            guard let parsed = GoDuration.parse(text), parsed >= .milliseconds(100) else {
                throw .invalid("SPIKE_NEXUS_KEEPER_POLL_INTERVAL", "is \"\(text)\"; use a duration of at least 100ms, e.g. 5s")
            }
            interval = parsed
        } else {
            interval = .seconds(5)
        }
        var configuration = NexusConfiguration(listen: listen, keepers: keepers, shares: shares, threshold: threshold, pollInterval: interval,
                                               dataDirectory: NexusDataDirectory.resolve(environment: environment))
        switch value("SPIKE_NEXUS_BACKEND_STORE") ?? "lmdb" {
        case "lmdb":
            break
        case "postgres":
            guard let text = value("SPIKE_NEXUS_POSTGRES_URL") else {
                throw .invalid("SPIKE_NEXUS_POSTGRES_URL", "is not set: SPIKE_NEXUS_BACKEND_STORE=postgres needs postgres://USER:PASSWORD@HOST:PORT/DATABASE")
            }
            do { configuration.store = .postgres(try PostgresURL(text, environment: environment)) } catch {
                throw .invalid("SPIKE_NEXUS_POSTGRES_URL", "is not usable: \(error)")
            }
        case let other:
            throw .invalid("SPIKE_NEXUS_BACKEND_STORE", "is \"\(other)\"; use lmdb (the default, the log in SPIKE_NEXUS_DATA_DIR) or postgres")
        }
        if let replica = value("SPIKE_NEXUS_REPLICA") {
            guard Self.isReplicaName(replica) else {
                throw .invalid("SPIKE_NEXUS_REPLICA", "is \"\(replica)\"; use 1 to 64 letters, digits, '.', '_' or '-', e.g. nexus-2")
            }
            configuration.replica = replica
        }
        configuration.maxSecretVersions = try integer(value("SPIKE_NEXUS_MAX_SECRET_VERSIONS"), "SPIKE_NEXUS_MAX_SECRET_VERSIONS", default: 10)
        guard (1...10_000).contains(configuration.maxSecretVersions) else {
            throw .invalid("SPIKE_NEXUS_MAX_SECRET_VERSIONS", "must be 1…10000")
        }
        let every = try integer(value("SPIKE_NEXUS_SNAPSHOT_EVERY"), "SPIKE_NEXUS_SNAPSHOT_EVERY", default: 10_000)
        guard (0...100_000_000).contains(every) else {
            throw .invalid("SPIKE_NEXUS_SNAPSHOT_EVERY", "must be 0 (no snapshots) … 100000000 records")
        }
        let snapshotInterval = try duration(value("SPIKE_NEXUS_SNAPSHOT_INTERVAL"), "SPIKE_NEXUS_SNAPSHOT_INTERVAL", default: .seconds(300))
        configuration.snapshots = every == 0 ? nil : SnapshotPolicy(everyEvents: UInt64(every), interval: snapshotInterval)
        configuration.maxCipherSize = try integer(value("SPIKE_NEXUS_CRYPTO_MAX_CIPHERTEXT_SIZE"), "SPIKE_NEXUS_CRYPTO_MAX_CIPHERTEXT_SIZE", default: 65536)
        guard (1...(16 << 20)).contains(configuration.maxCipherSize) else {
            throw .invalid("SPIKE_NEXUS_CRYPTO_MAX_CIPHERTEXT_SIZE", "must be 1…16777216 bytes")
        }
        configuration.handshakeTimeout = try duration(value("SPIKE_NEXUS_TLS_HANDSHAKE_TIMEOUT"), "SPIKE_NEXUS_TLS_HANDSHAKE_TIMEOUT",
                                                      default: configuration.handshakeTimeout)
        configuration.idleTimeout = try duration(value("SPIKE_NEXUS_IDLE_TIMEOUT"), "SPIKE_NEXUS_IDLE_TIMEOUT", default: configuration.idleTimeout)
        configuration.maxConnections = try integer(value("SPIKE_NEXUS_MAX_CONNECTIONS"), "SPIKE_NEXUS_MAX_CONNECTIONS", default: 1024)
        guard (1...1_000_000).contains(configuration.maxConnections) else {
            throw .invalid("SPIKE_NEXUS_MAX_CONNECTIONS", "must be 1…1000000")
        }
        configuration.maxHandshakes = try integer(value("SPIKE_NEXUS_MAX_TLS_HANDSHAKES"), "SPIKE_NEXUS_MAX_TLS_HANDSHAKES",
                                                   default: min(128, configuration.maxConnections))
        guard (1...configuration.maxConnections).contains(configuration.maxHandshakes) else {
            throw .invalid("SPIKE_NEXUS_MAX_TLS_HANDSHAKES", "must be 1…SPIKE_NEXUS_MAX_CONNECTIONS")
        }
        return configuration
    }

    /// 1 to 64 letters, digits, `.`, `_` or `-`.
    public static func isReplicaName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-")
        }
    }

    private static func duration(_ text: String?, _ name: String, default fallback: Duration) throws(ConfigurationError) -> Duration {
        guard let text else { return fallback }
        guard let parsed = GoDuration.parse(text), parsed >= .milliseconds(10) else {
            throw .invalid(name, "is \"\(text)\"; use a duration of at least 10ms, e.g. 10s")
        }
        return parsed
    }

    private static func integer(_ text: String?, _ name: String, default fallback: Int) throws(ConfigurationError) -> Int {
        guard let text else { return fallback }
        guard let number = Int(text) else { throw .invalid(name, "is \"\(text)\", not a number") }
        return number
    }
}

/// A setting that cannot be used.
public enum ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(String, String)

    public var description: String {
        switch self {
        case .invalid(let name, let why): "\(name) \(why)"
        }
    }
}

/// SPIKE's listen strings: `:8553`, `127.0.0.1:0`, `[::1]:8443`.
public enum ListenAddress {
    public static func parse(_ text: String, variable: String) throws(ConfigurationError) -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw .invalid(variable, "is \"\(text)\"; use host:port or :port")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}
