import Foundation
import NIOCore
import NIOHTTP1
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
/// (`HTTPServerLimits`). Keep-alive and pipelining are handled by NIO's server pipeline.
/// (Hummingbird 2 was measured in its place and cost 15-18% of read throughput: ADR-0007.)
public final class HTTPServer: Sendable {
    private let channel: NIOAsyncChannel<NIOAsyncChannel<NIOHTTPServerRequestFull, HTTPServerResponsePart>, Never>
    private let serving: Task<Void, Never>
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
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    let pipeline = child.pipeline.syncOperations
                    try pipeline.addHandler(FirstBytesMarker(pending: pending))
                    try pipeline.addHandler(tls.makeHandler())
                    try pipeline.addHandler(HandshakeDeadlineHandler(timeout: handshakeTimeout, idleTimeout: idleTimeout, pending: pending))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(NIOHTTPServerRequestAggregator(maxContentLength: limits.maxBodySize))
                    try pipeline.addHandler(IdleConnectionCloser())
                    return try NIOAsyncChannel<NIOHTTPServerRequestFull, HTTPServerResponsePart>(wrappingChannelSynchronously: child)
                }
            }
        localAddress = channel.channel.localAddress!
        let server = channel
        serving = Task {
            try? await server.executeThenClose { connections in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in connections {
                            group.addTask { await Self.serve(connection, router: router) }
                        }
                    } catch {
                        // The listening socket closed: stop accepting.
                    }
                }
            }
        }
    }

    /// Stops accepting and closes the listening socket; open connections end with their peers.
    /// The accept loop is not cancelled: it ends by itself once the socket is closed, after
    /// serving (and so closing) every connection already accepted. Cancelling it dropped those
    /// unserved, and NIO traps on an async channel that is never finished. For the same reason
    /// accepting stops first, and the connections being set up get a moment to reach the loop:
    /// one whose setup completed after the listener closed would be dropped the same way.
    public func shutdown() async {
        do {
            try await channel.channel.setOption(.autoRead, value: false).get()
            try? await Task.sleep(for: .milliseconds(200))
        } catch {
            // The listener is closed already: nothing is being accepted, nothing to wait for.
        }
        try? await channel.channel.close()
    }

    private static func serve(_ connection: NIOAsyncChannel<NIOHTTPServerRequestFull, HTTPServerResponsePart>, router: HTTPRouter) async {
        try? await connection.executeThenClose { inbound, outbound in
            // The handshake is over once a request arrived: the peer's ID is known, and stays
            // the same for the connection's life, which ends when the peer's SVID expires (closed
            // then, and no request served after it: a renewed SVID means a new connection).
            var peerID: SPIFFEID?
            var expires = Date.distantFuture
            for try await request in inbound {
                if peerID == nil {
                    guard let peer = try await connection.channel.spiffePeer().get() else { return }
                    (peerID, expires) = (peer.id, peer.expires)
                    let channel = connection.channel
                    let closing = channel.eventLoop.scheduleTask(in: .milliseconds(Int64(max(0, expires.timeIntervalSinceNow) * 1000))) {
                        channel.close(promise: nil)
                    }
                    channel.closeFuture.whenComplete { _ in closing.cancel() }
                }
                guard let peer = peerID, Date() < expires else { return }
                var response = await router.respond(to: HTTPRequest(
                    method: request.head.method, uri: request.head.uri, headers: request.head.headers,
                    body: request.body ?? ByteBuffer(), peer: peer))
                let keepAlive = request.head.isKeepAlive
                response.headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
                if !keepAlive { response.headers.replaceOrAdd(name: "Connection", value: "close") }
                // One write (one hop to the event loop, one flush) for the whole response.
                var parts: [HTTPServerResponsePart] = [.head(HTTPResponseHead(version: request.head.version, status: response.status, headers: response.headers))]
                if response.body.readableBytes > 0 { parts.append(.body(.byteBuffer(response.body))) }
                parts.append(.end(nil))
                try await outbound.write(contentsOf: parts)
                if !keepAlive { return }
            }
        }
    }
}
