import ArgumentParser
import Foundation
import NexusCore
import PostgresEventStore
import Nodes
import Projections
import SPIFFEWorkloadAPI
import SpikeAPI
import SpikeClient

struct DevStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the processes of a local cluster and whether the Nexus is ready.",
        discussion: """
        Exits 0 when every component runs and the Nexus is ready, 1 otherwise.
        Example:
          spike dev status --dir ~/.spike/dev
        """
    )

    @Option(name: .long, help: "The cluster's directory.")
    var dir: String

    func run() async throws {
        let cluster = DevCluster(directory: dir)
        let names = cluster.componentNames()
        guard !names.isEmpty else { throw CommandFailure("no cluster in \(cluster.directory): start one with `spike dev up --dir \(dir)`") }
        var healthy = true
        for name in names {
            if let pid = cluster.runningPID(name) {
                print("\(name.padding(toLength: 16, withPad: " ", startingAt: 0)) running  pid \(pid)\(cluster.address(name).map { "  https://\($0)" } ?? "")")
            } else {
                print("\(name.padding(toLength: 16, withPad: " ", startingAt: 0)) stopped")
                healthy = false
            }
        }
        let postgres = DevPostgres(directory: cluster.path("postgres"))
        if FileManager.default.fileExists(atPath: postgres.dataDirectory) {
            if let pid = postgres.runningPID {
                print("\("postgres".padding(toLength: 16, withPad: " ", startingAt: 0)) running  pid \(pid)  \(try postgres.url)")
            } else {
                print("\("postgres".padding(toLength: 16, withPad: " ", startingAt: 0)) stopped")
                healthy = false
            }
        }
        let replicas = cluster.nexusNames().filter { cluster.runningPID($0) != nil && cluster.address($0) != nil }
        if !replicas.isEmpty, cluster.runningPID("agent-superuser") != nil {
            let source = try await WorkloadAPIX509Source(
                endpoint: WorkloadAPIEndpoint(socketPath: cluster.path("run", "agent-superuser.sock")), firstSVIDTimeout: .seconds(5))
            defer { source.close() }
            for name in replicas {
                let api = try await NexusAPI.connect(as: .superuser, url: "https://\(cluster.address(name)!)", source: source)
                let label = "\(name) state".padding(toLength: 16, withPad: " ", startingAt: 0)
                if let status = try await api.status() {
                    let log = status.log.map { "; log folded through \($0.position) of \($0.head)" } ?? ""
                    print("\(label) \(status.state.rawValue), \(status.sharesInHand) of \(status.threshold) shares\(log)\(status.reason.map { ": \($0)" } ?? "")")
                    for keeper in status.keepers {
                        print("  keeper \(keeper.index)       \(keeper.lastOutcome ?? "not polled yet")\(keeper.lastPolledAt.map { " at \($0)" } ?? "")")
                    }
                    healthy = healthy && status.ready
                } else {
                    print("\(label) unknown (no /readyz answer)")
                    healthy = false
                }
            }
        }
        if !healthy { throw ExitCode(1) }
    }
}

struct DevDown: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Stop a local cluster (SIGTERM, then SIGKILL after a grace period); its log stays, the Keepers' shares do not.",
        discussion: """
        The Nexus stops first and records a clean stop in its log. The Keepers hold their shares
        in memory only: after `spike dev down` the next `spike dev up` finds them empty, and the
        Nexus needs `spike recover` (the admin password) to get its root key back. Add --purge to
        delete DIR.
        Example:
          spike dev down --dir ~/.spike/dev
        """
    )

    @Option(name: .long, help: "The cluster's directory.")
    var dir: String
    @Flag(name: .long, help: "Delete the directory (CA, log, everything) after stopping.")
    var purge = false

    func run() async throws {
        let cluster = DevCluster(directory: dir)
        for name in cluster.componentNames() where await cluster.stop(name) {
            print("stopped \(name)")
        }
        // The cluster's own PostgreSQL goes last: the Nexus recorded its stop in it.
        let postgres = DevPostgres(directory: cluster.path("postgres"))
        if postgres.runningPID != nil {
            try postgres.stop()
            print("stopped postgres")
        }
        if !purge {
            let place = (try? cluster.component("nexus"))?.environment["SPIKE_NEXUS_POSTGRES_URL"].flatMap { try? PostgresURL($0) }?.description
                ?? cluster.path("nexus")
            print("the log stays in \(place); the Keepers' shares are gone: after `spike dev up`, run `spike recover`")
        }
        if purge {
            try FileManager.default.removeItem(atPath: cluster.directory)
            print("deleted \(cluster.directory)")
        }
    }
}

struct DevStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start one stopped component of a local cluster again, as `spike dev up` did.",
        discussion: """
        Example (after a crash of the Nexus):
          spike dev start --dir ~/.spike/dev nexus
        """
    )

    @Option(name: .long, help: "The cluster's directory.")
    var dir: String
    @Argument(help: "The component: nexus, keeper-<i>, agent-nexus, agent-keeper, agent-superuser, or postgres (the cluster's own).")
    var name: String

    func run() async throws {
        let cluster = DevCluster(directory: dir)
        if name == "postgres" {
            let postgres = DevPostgres(directory: cluster.path("postgres"))
            guard FileManager.default.fileExists(atPath: postgres.dataDirectory) else {
                throw CommandFailure("\(cluster.directory) has no PostgreSQL of its own (it was not made with `spike dev up --store postgres`)")
            }
            _ = try postgres.start()
            print("postgres running, pid \(postgres.runningPID ?? 0)")
            return
        }
        let pid = try await cluster.start(try cluster.component(name))
        print("\(name) running, pid \(pid)")
    }
}

struct DevStop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop one component of a local cluster (SIGTERM, then SIGKILL after a grace period), or its PostgreSQL.",
        discussion: """
        Example (the cluster's own PostgreSQL goes away; the Nexus refuses writes until it is back):
          spike dev stop --dir ~/.spike/dev postgres
        """
    )

    @Option(name: .long, help: "The cluster's directory.")
    var dir: String
    @Argument(help: "The component, as `spike dev status` lists it.")
    var name: String

    func run() async throws {
        let cluster = DevCluster(directory: dir)
        if name == "postgres" {
            try DevPostgres(directory: cluster.path("postgres")).stop()
        } else {
            guard cluster.componentNames().contains(name) else { throw CommandFailure("\(cluster.directory) has no component \(name)") }
            _ = await cluster.stop(name)
        }
        print("stopped \(name)")
    }
}
