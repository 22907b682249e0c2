import ArgumentParser
import Foundation
import NexusCore
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
        if cluster.runningPID("nexus") != nil, cluster.runningPID("agent-superuser") != nil, let address = cluster.address("nexus") {
            let source = try await WorkloadAPIX509Source(
                endpoint: WorkloadAPIEndpoint(socketPath: cluster.path("run", "agent-superuser.sock")), firstSVIDTimeout: .seconds(5))
            defer { source.close() }
            let api = try await NexusAPI.connect(as: .superuser, url: "https://\(address)", source: source)
            if let status = try await api.status() {
                print("nexus state      \(status.state.rawValue), \(status.sharesInHand) of \(status.threshold) shares\(status.reason.map { ": \($0)" } ?? "")")
                for keeper in status.keepers {
                    print("  keeper \(keeper.index)       \(keeper.lastOutcome ?? "not polled yet")\(keeper.lastPolledAt.map { " at \($0)" } ?? "")")
                }
                healthy = healthy && status.ready
            } else {
                print("nexus state      unknown (no /readyz answer)")
                healthy = false
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
        if !purge {
            print("the log stays in \(cluster.path("nexus")); the Keepers' shares are gone: after `spike dev up`, run `spike recover`")
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
    @Argument(help: "The component: nexus, keeper-<i>, agent-nexus, agent-keeper or agent-superuser.")
    var name: String

    func run() async throws {
        let cluster = DevCluster(directory: dir)
        let pid = try await cluster.start(try cluster.component(name))
        print("\(name) running, pid \(pid)")
    }
}
