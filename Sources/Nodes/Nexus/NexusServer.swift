import Foundation
import NexusCore
import SPIFFE
import SPIFFETLS
import SpikeClient

/// A running Nexus, wired from its configuration: the node (log, lifecycle, store), the Keeper
/// poller over the Nexus' SVID, and the HTTPS server of SPIKE's API. The one place this wiring
/// is done: `spike nexus` and the tests start a Nexus through `start`.
public struct NexusServer: Sendable {
    public let node: NexusNode
    public let server: HTTPServer
    /// The lifecycle loop; it ends after `stop`, or throws if the log refuses the start.
    public let running: Task<Void, any Error>

    public var port: Int { server.port }

    /// Opens the log, folds it, listens, and starts the lifecycle. `nexusID` is this process'
    /// SPIFFE ID (the actor of the events it decides by itself).
    public static func start(configuration: NexusConfiguration, source: any X509Source, roles: SpikeRoles,
                             nexusID: String) async throws -> NexusServer {
        let poller = KeeperPoller(client: HTTPClient(tls: SPIFFETLS(role: .client, source: source, authorizer: roles.authorizer(.keeper)),
                                                     timeout: configuration.keeperTimeout))
        let node = try NexusNode(configuration: configuration, nexusID: nexusID, poller: poller)
        let service = NexusService(node: node, roles: roles)
        // Any SVID the trust bundles validate may connect; each route checks the caller's role.
        let server = try await HTTPServer.start(host: configuration.listen.host, port: configuration.listen.port,
                                                tls: SPIFFETLS(role: .server, source: source, authorizer: .any),
                                                limits: configuration.serverLimits, service: service)
        return NexusServer(node: node, server: server, running: Task { try await node.run() })
    }

    /// A clean stop: pending writes and poll summaries, `NexusStopped`, then the server.
    public func stop(reason: String) async {
        await node.stop(reason: reason)
        _ = await running.result
        await server.shutdown()
    }
}
