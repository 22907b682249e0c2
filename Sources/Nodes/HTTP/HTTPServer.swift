import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import SPIFFE
import SPIFFETLS

/// A service's routes, added to the router of the server that serves it.
public protocol HTTPService: Sendable {
    func addRoutes(to router: inout HTTPRouter)
}

/// An HTTP/1.1 server over SPIFFE mutual TLS: every connection presents an X.509-SVID that the
/// handshake validates and authorizes; routes get whole requests with the caller's SPIFFE ID.
/// Bodies above the limit are answered 413 without being read whole; a handshake that does not
/// complete in time, an idle connection, and connections beyond the limit are cut off
/// (`HTTPServerLimits`). `HTTPConnectionHandler` frames the requests (`HTTPRequestParser`,
/// ADR-0026), answers them on the connection's event loop, in order, and keeps the connection
/// (ADR-0022).
/// (Hummingbird 2 was measured in its place and cost 15-18% of read throughput: ADR-0007.)
public final class HTTPServer: Sendable {
    private let channel: any Channel
    /// The address the kernel bound (a port of 0 picks a free one).
    public let localAddress: SocketAddress
    private let pending: PendingHandshakes
    /// Connections accepted whose TLS handshake has not completed (at most `maxHandshakes`).
    public var connectionsInHandshake: Int { pending.count }

    public var port: Int { localAddress.port ?? 0 }

    /// Binds `host:port` and serves `service` until `shutdown()`.
    public static func start(host: String, port: Int, tls: SPIFFETLS, limits: HTTPServerLimits = HTTPServerLimits(),
                             service: some HTTPService,
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> HTTPServer {
        var router = HTTPRouter()
        service.addRoutes(to: &router)
        return try await HTTPServer(host: host, port: port, tls: tls, limits: limits, router: router, group: group)
    }

    private init(host: String, port: Int, tls: SPIFFETLS, limits: HTTPServerLimits, router: HTTPRouter,
                 group: any EventLoopGroup) async throws {
        let handshakeTimeout = TimeAmount(limits.handshakeTimeout)
        let idleTimeout = TimeAmount(limits.idleTimeout)
        let pending = PendingHandshakes(limit: limits.maxHandshakes)
        self.pending = pending
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            // One accept per read, so that the connection limit is exact.
            .serverChannelOption(.maxMessagesPerRead, value: 1)
            .serverChannelInitializer { server in
                server.eventLoop.makeCompletedFuture {
                    try server.pipeline.syncOperations.addHandler(ConnectionLimitHandler(limit: limits.maxConnections))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    let pipeline = child.pipeline.syncOperations
                    try pipeline.addHandler(FirstBytesMarker(pending: pending))
                    try pipeline.addHandler(tls.makeHandler())
                    try pipeline.addHandler(HandshakeDeadlineHandler(timeout: handshakeTimeout, pending: pending))
                    try pipeline.addHandler(HTTPConnectionHandler(router: router, maxBodySize: limits.maxBodySize, idleTimeout: idleTimeout))
                }
            }
            .bind(host: host, port: port).get()
        localAddress = channel.localAddress!
    }

    /// Stops accepting and closes the listening socket; open connections end with their peers.
    public func shutdown() async {
        do {
            try await channel.close()
        } catch ChannelError.alreadyClosed {
            // Shut down before: nothing is listening.
        } catch {
            FileHandle.standardError.write(Data("spike: closing the listening socket on \(localAddress) failed: \(error)\n".utf8))
        }
    }
}
