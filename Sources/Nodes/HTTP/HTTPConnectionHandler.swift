import Foundation
import NIOCore
import NIOHTTP1
import NIOTLS
import SPIFFE
import SPIFFETLS

/// HTTP/1.1 on one connection, after NIO's request decoder: whole requests in (bodies up to the
/// limit, 413 and closed past it), the router's answers out, in order, each written as one buffer
/// (status line, headers, `Content-Length`, body) and flushed at once (ADR-0022). An answer made
/// at once is written in the same turn of the event loop that read the request; a deferred one
/// when its reply arrives, on this loop. Pipelined requests wait behind a deferred answer, and the
/// connection stops reading while one waits. A request NIO cannot parse is answered 400 and the
/// connection closed. A connection with no request read and no answer written for the idle
/// timeout, and no answer owed, is closed; the timer starts once the TLS handshake is done (it
/// has its own deadline: an idle timer running from the accept closed connections whose
/// handshake a loaded machine had slowed, seen in CI), and a request whose answer takes longer
/// than the timeout (a write waiting for its commit) is not idle.
///
/// The peer's SPIFFE ID is the one the handshake validated, and stays the same for the
/// connection's life, which ends when the peer's SVID expires: closed then, and no request
/// served after it (a renewed SVID means a new connection).
final class HTTPConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private struct Request {
        var head: HTTPRequestHead
        var body: ByteBuffer?
        /// Its body passed the limit: answered 413 in its turn, the rest of it never read.
        var tooLarge = false
    }

    private let router: HTTPRouter
    private let maxBodySize: Int
    private var peer: (id: SPIFFEID, expires: Date)?
    private var expiry: Scheduled<Void>?
    /// The request being received (its head read, its end not yet).
    private var receiving: Request?
    /// Whole requests behind the one being answered.
    private var waiting = CircularBuffer<Request>()
    /// A deferred answer is owed.
    private var answering = false
    /// A read the channel asked for while a request waited.
    private var readHeld = false
    /// False once the connection closed, or is closing after an answer: nothing more is read, and
    /// a deferred answer arriving after it is dropped.
    private var open = true

    private let idleTimeout: TimeAmount
    /// When a request part was last read or an answer written (read once per part, not per
    /// TLS record: a clock read per event was measurable).
    private var lastActive = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?

    init(router: HTTPRouter, maxBodySize: Int, idleTimeout: TimeAmount) {
        self.router = router
        self.maxBodySize = maxBodySize
        self.idleTimeout = idleTimeout
    }

    // MARK: - Requests in

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // After an answer that closes the connection, nothing more is read.
        guard open else { return }
        lastActive = .now()
        switch unwrapInboundIn(data) {
        case .head(let head):
            receiving = Request(head: head)
            // The decoder has refused a Content-Length that is not one number (400).
            if let length = head.headers.first(name: "Content-Length").flatMap({ Int($0) }), length > maxBodySize {
                refuseTooLarge(context: context)
            }
        case .body(var part):
            // Nothing is left to receive once the request was refused as too large.
            guard var request = receiving else { return }
            guard part.readableBytes <= maxBodySize - (request.body?.readableBytes ?? 0) else { return refuseTooLarge(context: context) }
            // A body in one part (the usual case) is kept as it came, not copied.
            if request.body == nil { request.body = part } else { request.body!.writeBuffer(&part) }
            receiving = request
        case .end:
            guard let request = receiving else { return }
            receiving = nil
            answerInTurn(request, context: context)
        }
    }

    /// The request being received, refused as too large: the 413 is its answer, in its turn.
    private func refuseTooLarge(context: ChannelHandlerContext) {
        guard var request = receiving else { return }
        receiving = nil
        request.body = nil
        request.tooLarge = true
        answerInTurn(request, context: context)
    }

    /// Answers `request` now, or after the answers owed before it.
    private func answerInTurn(_ request: Request, context: ChannelHandlerContext) {
        if answering || !waiting.isEmpty {
            waiting.append(request)
        } else {
            serve(request, context: context)
        }
    }

    private func serve(_ request: Request, context: ChannelHandlerContext) {
        if request.tooLarge {
            // 413 with `Connection: close`, and the close: the rest of the body is not read.
            var refusal = request.head
            refusal.headers.replaceOrAdd(name: "Connection", value: "close")
            return write(HTTPResponse(status: .payloadTooLarge), to: refusal, context: context)
        }
        guard let peer = peer ?? identify(context), Date() < peer.expires else {
            context.close(promise: nil)
            return
        }
        let head = request.head
        switch router.answer(HTTPRequest(method: head.method, uri: head.uri, headers: head.headers,
                                         body: request.body ?? ByteBuffer(), peer: peer.id)) {
        case .now(let response):
            write(response, to: head, context: context)
        case .deferred(let start):
            answering = true
            let eventLoop = context.eventLoop
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: eventLoop)
            start { response in
                // Written in its turn on this loop (after this call even when the work replied at once).
                eventLoop.execute {
                    let (handler, context) = bound.value
                    handler.answering = false
                    guard handler.open else { return }
                    handler.write(response, to: head, context: context)
                    handler.serveWaiting(context: context)
                }
            }
        }
    }

    /// The requests that waited behind a deferred answer, until the next deferred one; then
    /// reads again if a read was held.
    private func serveWaiting(context: ChannelHandlerContext) {
        while open, !answering, let next = waiting.popFirst() { serve(next, context: context) }
        if open, waiting.isEmpty, readHeld {
            readHeld = false
            context.read()
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

    // MARK: - Answers out

    /// The whole response in one buffer and one flush; `Connection: close`, then the close, when
    /// the request did not keep the connection alive. A HEAD request gets the head alone.
    private func write(_ response: HTTPResponse, to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let keepAlive = request.isKeepAlive
        lastActive = .now()
        var buffer = context.channel.allocator.buffer(capacity: 160 + response.body.readableBytes)
        if request.version == .http1_1, response.status == .ok {
            buffer.writeStaticString("HTTP/1.1 200 OK\r\n")
        } else {
            buffer.writeString("HTTP/\(request.version.major).\(request.version.minor) \(response.status.code) \(response.status.reasonPhrase)\r\n")
        }
        // Routes set their content's headers; the framing ones are this handler's alone.
        if let lines = response.headerLines {
            buffer.writeImmutableBuffer(lines)
        } else {
            response.headers.writeLines(to: &buffer)
        }
        // The length's digits are a small string: nothing allocated for the line.
        buffer.writeStaticString("Content-Length: ")
        buffer.writeString(String(response.body.readableBytes))
        buffer.writeStaticString("\r\n")
        if !keepAlive { buffer.writeStaticString("Connection: close\r\n") }
        buffer.writeStaticString("\r\n")
        if request.method != .HEAD { buffer.writeImmutableBuffer(response.body) }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        } else {
            open = false
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in bound.value.close(promise: nil) }
        }
    }

    // MARK: - The connection

    func read(context: ChannelHandlerContext) {
        if waiting.isEmpty {
            context.read()
        } else {
            readHeld = true
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            lastActive = .now()
            checkIdle(at: lastActive + idleTimeout, context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func checkIdle(at deadline: NIODeadline, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            guard handler.open else { return }
            let now = NIODeadline.now()
            if handler.lastActive + handler.idleTimeout > now {
                handler.checkIdle(at: handler.lastActive + handler.idleTimeout, context: context)
            } else if handler.answering || !handler.waiting.isEmpty {
                handler.checkIdle(at: now + handler.idleTimeout, context: context)
            } else {
                context.close(promise: nil)
            }
        }
    }

    /// A request NIO could not parse is answered 400 (unless an answer is owed before it: then
    /// it is only closed); any other failure (TLS) closes the connection.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard open else { return }
        if error is HTTPParserError, !answering, waiting.isEmpty {
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["Connection": "close"])
            write(HTTPResponse(status: .badRequest), to: head, context: context)
        } else {
            open = false
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        open = false
        expiry?.cancel()
        idleTimer?.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        open = false
        expiry?.cancel()
        idleTimer?.cancel()
    }
}
