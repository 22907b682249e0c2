import Foundation
import NIOCore
import NIOHTTP1
import SPIFFE
import SPIFFETLS

/// The last handler of a connection: whole requests in, the router's answers out, in order (NIO's
/// pipeline handler holds a pipelined request until the answer before it has ended). An answer
/// made at once is written in the same turn of the event loop that read the request; a deferred
/// one when its reply arrives, on this loop (ADR-0022).
///
/// The peer's SPIFFE ID is the one the handshake validated, and stays the same for the
/// connection's life, which ends when the peer's SVID expires: closed then, and no request
/// served after it (a renewed SVID means a new connection).
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOHTTPServerRequestFull
    typealias OutboundOut = HTTPServerResponsePart

    private let router: HTTPRouter
    private var peer: (id: SPIFFEID, expires: Date)?
    private var expiry: Scheduled<Void>?
    /// False once the connection closed: a deferred answer arriving after it is dropped.
    private var open = true

    init(router: HTTPRouter) {
        self.router = router
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = unwrapInboundIn(data)
        guard let peer = peer ?? identify(context), Date() < peer.expires else {
            context.close(promise: nil)
            return
        }
        let head = request.head
        switch router.answer(HTTPRequest(method: head.method, uri: head.uri, headers: head.headers,
                                         body: request.body ?? ByteBuffer(), peer: peer.id)) {
        case .now(let response):
            write(response, to: head, context: context)
        case .deferred(let work):
            let eventLoop = context.eventLoop
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: eventLoop)
            work { result in
                // The router makes every failure a response.
                guard case .success(let response) = result else { return }
                eventLoop.execute {
                    let (handler, context) = bound.value
                    if handler.open { handler.write(response, to: head, context: context) }
                }
            }
        }
    }

    /// The peer's ID and the closing of the connection when its SVID expires, at the first request
    /// (the handshake is over once one arrived); nil when the handshake validated no SVID.
    private func identify(_ context: ChannelHandlerContext) -> (id: SPIFFEID, expires: Date)? {
        guard let peer = try? context.pipeline.syncOperations.spiffePeer() else { return nil }
        self.peer = peer
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        expiry = context.eventLoop.scheduleTask(in: .milliseconds(Int64(max(0, peer.expires.timeIntervalSinceNow) * 1000))) {
            bound.value.close(promise: nil)
        }
        return peer
    }

    /// The whole response in one flush: its length, and `Connection: close` (then the close)
    /// when the request did not keep the connection alive.
    private func write(_ response: HTTPResponse, to request: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.readableBytes))
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: response.status, headers: headers))),
                      promise: nil)
        if response.body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil) }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        open = false
        expiry?.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        open = false
        expiry?.cancel()
    }

    /// A connection that failed (TLS, a malformed request NIO could not answer) is closed.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
