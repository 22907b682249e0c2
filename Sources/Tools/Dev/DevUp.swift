import ArgumentParser
import Foundation
import NexusCore
import PostgresEventStore
import Nodes
import SPIFFE
import SPIFFEWorkloadAPI
import SpikeAPI
import SpikeClient

struct DevUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start a local cluster: a development trust domain, three Keepers and a Nexus, initialized.",
        discussion: """
        Everything lives in --dir: the CA (ca/), one Workload API agent per identity (run/*.sock),
        the Nexus' log (nexus/), logs (logs/), pids (run/*.pid) and DIR/env, the exports with
        which `spike` acts as the superuser. A new system is initialized with the password from
        --admin-password-file, or a generated one printed once. Running it again on the same
        directory starts what is not running and keeps the data. Returns once the Nexus is ready.
        With --replicas N (and --store postgres) N Nexus replicas share the log: `nexus`, then
        `nexus-2`…, each with its own port and data directory (the audit key copied from the
        first); DIR/env names the first in SPIKE_NEXUS_API_URL and all in SPIKE_NEXUS_API_URLS.
        Examples:
          spike dev up --dir ~/.spike/dev
          spike dev up --dir ~/.spike/ha --store postgres --replicas 2
          . ~/.spike/dev/env && spike dev status --dir ~/.spike/dev
          spike dev down --dir ~/.spike/dev
        """
    )

    @Option(name: .long, help: "The cluster's directory (created if missing).")
    var dir: String
    @Option(name: .long, help: "A file holding the admin password for a new system (else one is generated and printed once).")
    var adminPasswordFile: String?
    @Option(name: .long, help: "The development trust domain.")
    var trustDomain: String = "spike.ist"
    @Option(name: .long, help: "How many Keepers (the threshold is a majority).")
    var keepers: Int = 3
    @Option(name: .long, help: "How often the Nexus polls each Keeper (a Go duration).")
    var pollInterval: String = "5s"
    @Option(name: .long, help: "Seconds to wait for the Nexus to be ready.")
    var timeout: Int = 60
    @Option(name: .long, help: "Where the Nexus keeps its log: lmdb (in DIR/nexus) or postgres (a private server in DIR/postgres, or --postgres-url).")
    var store: String = "lmdb"
    @Option(name: .long, help: ArgumentHelp(
        "An existing PostgreSQL database for --store postgres (postgres://USER@HOST:PORT/DATABASE; the password in PGPASSWORD).",
        valueName: "URL"))
    var postgresURL: String?
    @Option(name: .long, help: "How many Nexus replicas share the log (more than one needs --store postgres).")
    var replicas: Int = 1

    func validate() throws {
        guard (1...5).contains(replicas) else { throw ValidationError("--replicas must be 1…5") }
        guard replicas == 1 || store == "postgres" else {
            throw ValidationError("--replicas \(replicas) needs --store postgres: an LMDB log has one writing process")
        }
        guard (1...9).contains(keepers) else { throw ValidationError("--keepers must be 1…9") }
        guard store == "lmdb" || store == "postgres" else { throw ValidationError("--store must be lmdb or postgres") }
        guard store == "postgres" || postgresURL == nil else { throw ValidationError("--postgres-url goes with --store postgres") }
        guard GoDuration.parse(pollInterval) != nil else { throw ValidationError("--poll-interval is not a duration such as 5s") }
    }

    func run() async throws {
        let cluster = DevCluster(directory: dir)
        let domain = try TrustDomain(parsing: trustDomain)
        for sub in ["run", "logs"] {
            try FileManager.default.createDirectory(atPath: cluster.path(sub), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let caDirectory = cluster.path("ca")
        if !FileManager.default.fileExists(atPath: DevFiles.path(caDirectory, "ca.pem")) {
            try DevCAInit.parse(["--dir", caDirectory, "--trust-domain", domain.name]).run()
        }
        guard cluster.path("run", "agent-superuser.sock").utf8.count < 100 else {
            throw CommandFailure("\(cluster.directory) is too long a path for Unix sockets; use a shorter --dir")
        }
        // One agent per identity: a socket gives whoever opens it that identity.
        let identities = ["agent-nexus": "/spike/nexus", "agent-keeper": "/spike/keeper", "agent-superuser": "/spike/pilot/role/superuser",
                          "agent-recover": "/spike/pilot/role/recover", "agent-restore": "/spike/pilot/role/restore"]
        for name in DevCluster.agentNames {
            let socket = cluster.path("run", name + ".sock")
            let component = DevCluster.Component(
                name: name, arguments: ["dev", "agent", "--ca", caDirectory, "--socket", socket, "--id", "spiffe://\(domain.name)\(identities[name]!)"],
                environment: [:], readyFile: socket)
            try cluster.save(component)
            try await cluster.start(component)
        }
        let trust = ["SPIKE_TRUST_ROOT": domain.name]
        var keeperURLs: [String] = []
        for index in 1...keepers {
            let name = DevCluster.keeperName(index)
            var component = (try? cluster.component(name)) ?? DevCluster.Component(
                name: name, arguments: ["keeper", "--address-file", cluster.path("run", name + ".addr")],
                environment: trust.merging(["SPIFFE_ENDPOINT_SOCKET": "unix://" + cluster.path("run", "agent-keeper.sock"),
                                            "SPIKE_KEEPER_TLS_PORT": "127.0.0.1:0"]) { $1 },
                readyFile: cluster.path("run", name + ".addr"))
            try await cluster.start(component)
            let address = cluster.address(name) ?? ""
            // Later starts keep the port: the Nexus knows the Keeper by its URL.
            component.environment["SPIKE_KEEPER_TLS_PORT"] = address
            try cluster.save(component)
            keeperURLs.append("https://\(address)")
        }
        var nexus = (try? cluster.component("nexus")) ?? DevCluster.Component(
            name: "nexus", arguments: ["nexus", "--address-file", cluster.path("run", "nexus.addr")],
            environment: trust.merging([
                "SPIFFE_ENDPOINT_SOCKET": "unix://" + cluster.path("run", "agent-nexus.sock"),
                "SPIKE_NEXUS_TLS_PORT": "127.0.0.1:0",
                "SPIKE_NEXUS_DATA_DIR": cluster.path("nexus"),
                "SPIKE_NEXUS_SHAMIR_SHARES": String(keepers),
                "SPIKE_NEXUS_SHAMIR_THRESHOLD": String(keepers / 2 + 1),
                "SPIKE_NEXUS_KEEPER_POLL_INTERVAL": pollInterval,
            ]) { $1 },
            readyFile: cluster.path("run", "nexus.addr"))
        nexus.environment["SPIKE_NEXUS_KEEPER_PEERS"] = keeperURLs.joined(separator: ",")
        var logPlace = cluster.path("nexus")
        if store == "postgres" {
            if let postgresURL {
                // Checked here (no password on the command line); the Nexus reads PGPASSWORD as given.
                logPlace = try LogStoreArgument.postgresURL(postgresURL).description
                nexus.environment["SPIKE_NEXUS_POSTGRES_URL"] = postgresURL
                if let password = ProcessInfo.processInfo.environment["PGPASSWORD"] { nexus.environment["PGPASSWORD"] = password }
            } else {
                let url = try DevPostgres(directory: cluster.path("postgres")).start()
                logPlace = url.description
                nexus.environment["SPIKE_NEXUS_POSTGRES_URL"] = url.description
            }
            nexus.environment["SPIKE_NEXUS_BACKEND_STORE"] = "postgres"
        } else if let text = nexus.environment["SPIKE_NEXUS_POSTGRES_URL"] {
            // A cluster made with --store postgres keeps it; its own server is started again.
            if FileManager.default.fileExists(atPath: cluster.path("postgres", "data")) {
                _ = try DevPostgres(directory: cluster.path("postgres")).start()
            }
            logPlace = (try? PostgresURL(text))?.description ?? logPlace
        }
        // Replicas of a shared log: the first (`nexus`) and `nexus-2`…, each its lane in the log.
        if nexus.environment["SPIKE_NEXUS_POSTGRES_URL"] != nil { nexus.environment["SPIKE_NEXUS_REPLICA"] = "nexus" }
        var nexusURLs: [String] = []
        for index in 1...max(replicas, cluster.nexusNames().count) {
            let name = DevCluster.nexusName(index)
            var replica = nexus
            if index > 1 {
                replica.name = name
                replica.arguments = ["nexus", "--address-file", cluster.path("run", name + ".addr")]
                replica.readyFile = cluster.path("run", name + ".addr")
                replica.environment["SPIKE_NEXUS_DATA_DIR"] = cluster.path(name)
                // Later starts keep the port: clients know the replica by its URL.
                replica.environment["SPIKE_NEXUS_TLS_PORT"] = (try? cluster.component(name))?.environment["SPIKE_NEXUS_TLS_PORT"] ?? "127.0.0.1:0"
                replica.environment["SPIKE_NEXUS_REPLICA"] = name
                // Every replica opens what the others wrote: the first one's audit key.
                try cluster.shareAuditKey(with: name)
            }
            try cluster.save(replica)
            try await cluster.start(replica)
            replica.environment["SPIKE_NEXUS_TLS_PORT"] = cluster.address(name) ?? ""
            try cluster.save(replica)
            nexusURLs.append("https://\(cluster.address(name) ?? "")")
        }
        let nexusURL = nexusURLs[0]

        // One environment file per pilot role: `. DIR/env` acts as the superuser,
        // `. DIR/env-recover` and `. DIR/env-restore` as the recover and restore roles.
        func exports(_ agent: String) -> [String: String] {
            ["SPIFFE_ENDPOINT_SOCKET": "unix://" + cluster.path("run", agent + ".sock"), "SPIKE_NEXUS_API_URL": nexusURL,
             "SPIKE_NEXUS_API_URLS": nexusURLs.joined(separator: ","), "SPIKE_TRUST_ROOT": domain.name]
        }
        for (file, agent) in [("env", "agent-superuser"), ("env-recover", "agent-recover"), ("env-restore", "agent-restore")] {
            try exports(agent).sorted { $0.key < $1.key }.map { "export \($0.key)=\(Self.shellQuoted($0.value))\n" }.joined()
                .write(toFile: cluster.path(file), atomically: true, encoding: .utf8)
        }

        let endpoint = try WorkloadAPIEndpoint(parsing: exports("agent-superuser")["SPIFFE_ENDPOINT_SOCKET"]!)
        let source = try await WorkloadAPIX509Source(endpoint: endpoint, firstSVIDTimeout: .seconds(10))
        defer { source.close() }
        let api = try await NexusAPI.connect(as: .superuser, url: nexusURL, source: source)
        let check = try await api.post(.initializationCheck, [String: String]())
        if (try? JSONDecoder().decode([String: String].self, from: Data(check.body)))?["state"] == "uninitialized" {
            let password: String
            if let adminPasswordFile {
                password = try InitCommand.readPassword(file: adminPasswordFile)
            } else {
                password = Self.generatePassword()
                print("admin password (printed once, stored nowhere; it recovers the root key if every Keeper is lost):")
                print("  \(password)")
            }
            try await InitCommand.initialize(api, password: password)
        }
        let deadline = ContinuousClock.now + .seconds(timeout)
        while true {
            let status = try await api.status()
            if status?.ready == true {
                // Every other replica gets the root key from the Keepers on its own.
                var others: [String] = []
                for url in nexusURLs.dropFirst() where try await NexusAPI.connect(as: .superuser, url: url, source: source).status()?.ready != true {
                    others.append(url)
                }
                if others.isEmpty { break }
                guard ContinuousClock.now < deadline else { throw CommandFailure("Nexus replicas \(others) are not ready after \(timeout)s; see \(cluster.path("logs"))") }
                try await Task.sleep(for: .milliseconds(100))
                continue
            }
            guard ContinuousClock.now < deadline else {
                if let status, status.state == .sealed, status.keepers.allSatisfy({ $0.lastOutcome == "empty" }) {
                    throw CommandFailure("""
                        the Nexus stays sealed: every Keeper is empty (their shares were in memory only). \
                        Give it its root key back with the admin password:  . \(cluster.path("env-recover")) && spike recover
                        """)
                }
                throw CommandFailure("the Nexus is not ready after \(timeout)s: \(status?.reason ?? "no status"); see \(cluster.path("logs"))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        print("ready: Nexus at \(nexusURLs.joined(separator: ", ")), \(keepers) Keepers, log in \(logPlace)")
        print("act as the superuser with:  . \(cluster.path("env"))  (recover role: env-recover, restore role: env-restore)")
    }

    static func generatePassword() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
        return String((0..<24).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    static func shellQuoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
