import ArgumentParser
import CProcessControl
import EventLog
import Foundation
import NexusCore
import Nodes
import Projections
import SPIFFE
import SPIFFETLS
import SPIFFEWorkloadAPI

struct NexusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nexus",
        abstract: "Run the Nexus: the secrets store, its event log, and the Keepers' poller.",
        discussion: """
        The Nexus answers 503 state_not_ready until it holds the root key: after `spike init` on
        a new system, or once `threshold` Keepers gave back their shares after a restart. It
        polls every Keeper forever and sends an empty one its share again. Every step is an
        event in the log in SPIKE_NEXUS_DATA_DIR. SIGTERM stops it cleanly (recorded); a stop
        without it is recorded as a crash at the next start.

        Environment:
          SPIFFE_ENDPOINT_SOCKET               the Workload API (the Nexus' identity, …/spike/nexus)
          SPIKE_NEXUS_TLS_PORT                 listen address, default :8553
          SPIKE_NEXUS_KEEPER_PEERS             Keeper URLs, comma-separated; position = share index
          SPIKE_NEXUS_SHAMIR_SHARES            default 3 (must equal the number of Keepers)
          SPIKE_NEXUS_SHAMIR_THRESHOLD         default 2
          SPIKE_NEXUS_KEEPER_POLL_INTERVAL     default 5s
          SPIKE_NEXUS_DATA_DIR                 default ~/.spike/data (the audit key; the LMDB log)
          SPIKE_NEXUS_BACKEND_STORE            lmdb (default: the log in the data directory) or postgres
          SPIKE_NEXUS_POSTGRES_URL             postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=require]
                                               (without a password there: PGPASSWORD)
          SPIKE_TRUST_ROOT_*                   default spike.ist
          SPIKE_MEMORY_LOCK                    auto (default: lock memory when allowed), required, off
        Core dumps are disabled; memory is locked when allowed (CAP_IPC_LOCK or an unlimited
        RLIMIT_MEMLOCK), so that the root key never reaches a core file or swap.
        Example:
          SPIFFE_ENDPOINT_SOCKET=unix:///tmp/nexus.sock \\
          SPIKE_NEXUS_KEEPER_PEERS=https://localhost:8443,https://localhost:8543,https://localhost:8643 spike nexus
        """
    )

    @Option(name: .long, help: "Write the bound host:port to this file once listening.")
    var addressFile: String?
    @Option(name: .long, help: ArgumentHelp(
        "Serve a log whose head is SEQ although a Keeper witnessed a later or another head (a restore from a backup); recorded as LogHeadAccepted.",
        valueName: "SEQ"))
    var acceptLogHead: UInt64?

    func run() async throws {
        let environment = Workload.environment
        try HostHardening.apply(to: "spike nexus", environment: environment)
        // Snapshots of the data are built and freed now and then (tens of MB with 100,000 secrets).
        spike_return_large_buffers()
        var configuration: NexusConfiguration
        do { configuration = try NexusConfiguration.fromEnvironment(environment) } catch { throw CommandFailure(error.description) }
        configuration.acceptLogHead = acceptLogHead
        configuration.logHeadAcceptedBy = "host:\(NSUserName())@\(ProcessInfo.processInfo.hostName) (spike nexus --accept-log-head \(acceptLogHead ?? 0))"
        let roles = try Workload.roles()
        let source = try await Workload.source()
        defer { source.close() }
        let id = try Workload.identity(of: source, as: .nexus, roles: roles)
        let nexus: NexusServer
        let logPlace: String
        if case .postgres(let url) = configuration.store { logPlace = "\(url)" } else { logPlace = configuration.dataDirectory }
        do {
            nexus = try await NexusServer.start(configuration: configuration, source: source, roles: roles, nexusID: id.description)
        } catch let error as LogError {
            throw CommandFailure("cannot open the log in \(logPlace): \(error)")
        } catch let error as ReplayError {
            throw CommandFailure("refusing the log in \(logPlace): \(error)")
        } catch let error as LifecycleError {
            throw CommandFailure("cannot start the Nexus: \(error)")
        } catch {
            throw CommandFailure("cannot start the Nexus: \(error)")
        }
        try Workload.writeAddress("\(configuration.listen.host):\(nexus.port)", to: addressFile)
        FileHandle.standardOutput.write(Data("spike nexus \(id) listening on https://\(configuration.listen.host):\(nexus.port), log in \(logPlace)\n".utf8))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await nexus.running.value }
            group.addTask {
                let signal = await Termination.wait()
                await nexus.node.stop(reason: "signal \(signal)")
            }
            try await group.next()
            group.cancelAll()
        }
        await nexus.server.shutdown()
        FileHandle.standardOutput.write(Data("spike nexus stopped\n".utf8))
    }
}
