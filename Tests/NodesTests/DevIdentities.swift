import NIOCore
import NIOPosix
import NexusCore
import Nodes
import SPIFFE
import SPIFFETLS
import SpikeClient

/// A development trust domain for tests over real mutual TLS: an SVID for any path, a client
/// with one role's authorizer, a Keeper's server on a port the kernel picks.
struct DevIdentities {
    let ca: DevelopmentCA
    let roles: SpikeRoles

    init() throws {
        ca = try DevelopmentCA(trustDomain: TrustDomain(parsing: "spike.ist"))
        roles = try SpikeRoles(environment: [:])
    }

    func source(_ path: String) throws -> StaticX509Source {
        StaticX509Source(svid: try ca.issue(SPIFFEID(parsing: "spiffe://spike.ist" + path)), bundles: X509BundleSet([ca.bundle]))
    }

    /// A client acting as `path`, which accepts only a server with the `server` role.
    func client(_ path: String, server: SpikeRoles.Role, timeout: Duration = .seconds(10),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws -> HTTPClient {
        HTTPClient(tls: SPIFFETLS(role: .client, source: try source(path), authorizer: roles.authorizer(server)), timeout: timeout, group: group)
    }

    /// A Keeper's server and its URL.
    func startKeeper(limits: HTTPServerLimits = KeeperService.limits,
                     group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> (HTTPServer, String) {
        let service = KeeperService(roles: roles)
        let server = try await HTTPServer.start(host: "127.0.0.1", port: 0,
                                                tls: SPIFFETLS(role: .server, source: try source("/spike/keeper"), authorizer: service.connectionAuthorizer),
                                                limits: limits, service: service, group: group)
        return (server, "https://127.0.0.1:\(server.port)")
    }
}
