import Foundation
import NIOCore
import NIOHTTP1
import NIOTLS
import SPIFFE
import SPIFFETLS

/// HTTP/1.1 on one connection: requests framed by `HTTPRequestParser` (bodies up to the limit,
/// 413 and closed past it), the router's answers out, in order, each written as one buffer
/// (status line, headers, `Content-Length`, body) and flushed at once (ADR-0022). An answer made
/// at once is written in the same turn of the event loop that read the request; a deferred one
/// when its reply arrives, on this loop. Requests behind a deferred answer are not parsed until it
/// is written, and the connection stops reading while they wait (ADR-0026). A request that cannot
/// be framed is answered in its turn with the refusal's status (400, 413, 414, 431, 501, 505)
/// and the connection closed. A connection with no request read and no answer written for the
/// idle timeout, and no answer owed, is closed; the timer starts once the TLS handshake is done
/// (it has its own deadline: an idle timer running from the accept closed connections whose
/// handshake a loaded machine had slowed, seen in CI), and a request whose answer takes longer
/// than the timeout (a write waiting for its commit) is not idle.
///
/// The peer's SPIFFE ID is the one the handshake validated, and stays the same for the
/// connection's life, which ends when the peer's SVID expires: closed then, and no request
/// served after it (a renewed SVID means a new connection).
final class HTTPConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Never
    typealias OutboundOut = ByteBuffer

    private let router: HTTPRouter
    private var parser: HTTPRequestParser
    /// The peer, and when its SVID expires on this loop's clock.
    private var peer: (id: SPIFFEID, expires: NIODeadline)?
    private var expiry: Scheduled<Void>?
    /// A deferred answer is owed.
    private var answering = false
    /// A read the channel asked for while a deferred answer was owed and bytes waited.
    private var readHeld = false
    /// False once the connection closed, or is closing after an answer: nothing more is read, and
    /// a deferred answer arriving after it is dropped.
    private var open = true

    private let idleTimeout: TimeAmount
    /// When bytes were last read or a deferred answer written: the clock is read once per read,
    /// not per TLS record or per request (a clock read per event was measurable), and a request's
    /// checks (the peer's expiry) use this reading.
    private var lastActive = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?

    init(router: HTTPRouter, maxBodySize: Int, idleTimeout: TimeAmount) {
        self.router = router
        self.parser = HTTPRequestParser(maxBodySize: maxBodySize)
        self.idleTimeout = idleTimeout
    }

    // MARK: - Requests in

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // After an answer that closes the connection, nothing more is read.
        guard open else { return }
        lastActive = .now()
        var bytes = unwrapInboundIn(data)
        parser.append(&bytes)
        serveParsed(context: context)
    }

    /// Answers the requests the bytes read hold, in order, until one is deferred, the connection
    /// closes, or more bytes are needed.
    private func serveParsed(context: ChannelHandlerContext) {
        while open, !answering {
            switch parser.next() {
            case .needMoreBytes:
                return
            case .request(let request):
                serve(request, context: context)
            case .refused(let refusal, let head):
                // Answered with `Connection: close`, and closed: nothing after it can be framed.
                let response = HTTPResponse(status: refusal.status)
                return write(response, version: head?.version ?? .http1_1, keepAlive: false, headOnly: false, context: context)
            }
        }
    }

    private func serve(_ request: HTTPRequestParser.Request, context: ChannelHandlerContext) {
        guard let peer = peer ?? identify(context), lastActive < peer.expires else {
            open = false
            context.close(promise: nil)
            return
        }
        // What the answer's framing needs of the head, not the head.
        let framing = Framing(request.head)
        switch router.answer(HTTPRequest(request, peer: peer.id)) {
        case .now(let response):
            write(response, framed: framing, context: context)
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
                    handler.lastActive = .now()
                    handler.write(response, framed: framing, context: context)
                    handler.serveParsed(context: context)
                    if handler.open, handler.readHeld, !(handler.answering && handler.parser.hasUnparsedBytes) {
                        handler.readHeld = false
                        context.read()
                    }
                }
            }
        }
    }

    /// The peer's ID and the closing of the connection when its SVID expires, at the first request
    /// (the handshake is over once one arrived); nil when the handshake validated no SVID.
    private func identify(_ context: ChannelHandlerContext) -> (id: SPIFFEID, expires: NIODeadline)? {
        guard let (id, expires) = try? context.pipeline.syncOperations.spiffePeer() else { return nil }
        let deadline = NIODeadline.now() + .milliseconds(Int64(max(0, expires.timeIntervalSinceNow) * 1000))
        peer = (id, deadline)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        expiry = context.eventLoop.scheduleTask(deadline: deadline) {
            bound.value.close(promise: nil)
        }
        return peer
    }

    // MARK: - Answers out

    /// What an answer's framing takes from its request's head.
    private struct Framing {
        let version: HTTPVersion
        let keepAlive: Bool
        let headOnly: Bool

        init(_ head: borrowing HTTPRequestParser.Head) {
            version = head.version
            keepAlive = head.keepAlive
            headOnly = head.method == .HEAD
        }
    }

    /// The whole response in one buffer and one flush; `Connection: close`, then the close, when
    /// the request did not keep the connection alive. A HEAD request gets the head alone.
    private func write(_ response: consuming HTTPResponse, framed framing: Framing, context: ChannelHandlerContext) {
        write(response, version: framing.version, keepAlive: framing.keepAlive, headOnly: framing.headOnly, context: context)
    }

    private func write(_ response: consuming HTTPResponse, version: HTTPVersion, keepAlive: Bool, headOnly: Bool, context: ChannelHandlerContext) {
        let buffer = Self.encode(response, version: version, keepAlive: keepAlive, headOnly: headOnly, allocator: context.channel.allocator)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        } else {
            open = false
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in bound.value.close(promise: nil) }
        }
    }

    /// The response as it is written: status line, the route's headers (the framing ones are this
    /// handler's alone), `Content-Length`, `Connection: close` when the connection ends, the
    /// empty line, the body unless `headOnly`. One buffer: the body's own when it has room in
    /// front for the head (`HTTPResponse.bodyWithHeadroom`, the read route's), else a new one
    /// with the body copied after the head.
    static func encode(_ response: consuming HTTPResponse, version: HTTPVersion, keepAlive: Bool, headOnly: Bool,
                       allocator: ByteBufferAllocator) -> ByteBuffer {
        let status = response.status
        let statusLine: String? = version == .http1_1 && status == .ok ? nil : "HTTP/\(version.major).\(version.minor) \(status.code) \(status.reasonPhrase)\r\n"
        let lines = response.headerLines ?? response.headers.lines()
        // The length's digits are a small string: nothing allocated for them.
        let length = String(response.body.readableBytes)
        let headLength = (statusLine?.utf8.count ?? okLine.utf8CodeUnitCount) + lines.readableBytes
            + lengthName.utf8CodeUnitCount + length.utf8.count + 2 + (keepAlive ? 0 : closeLine.utf8CodeUnitCount) + 2
        // Consumed, so that the body's storage is this function's alone and the head is written
        // into it, not into a copy.
        var body = (consume response).body
        var buffer: ByteBuffer
        if !headOnly, body.readerIndex >= headLength {
            buffer = body
            body = ByteBuffer()
        } else {
            buffer = allocator.buffer(capacity: headLength + (headOnly ? 0 : body.readableBytes))
            buffer.moveWriterIndex(forwardBy: headLength)
            buffer.moveReaderIndex(forwardBy: headLength)
            if !headOnly { buffer.writeBuffer(&body) }
        }
        let start = buffer.readerIndex - headLength
        var index = start
        if let statusLine { index += buffer.setString(statusLine, at: index) } else { index += buffer.setStaticString(okLine, at: index) }
        index += buffer.setBuffer(lines, at: index)
        index += buffer.setStaticString(lengthName, at: index)
        index += buffer.setString(length, at: index)
        index += buffer.setStaticString("\r\n", at: index)
        if !keepAlive { index += buffer.setStaticString(closeLine, at: index) }
        index += buffer.setStaticString("\r\n", at: index)
        precondition(index == buffer.readerIndex, "a response's head was miscounted")
        buffer.moveReaderIndex(to: start)
        return buffer
    }

    private static let okLine: StaticString = "HTTP/1.1 200 OK\r\n"
    private static let lengthName: StaticString = "Content-Length: "
    private static let closeLine: StaticString = "Connection: close\r\n"

    // MARK: - The connection

    func read(context: ChannelHandlerContext) {
        // Bytes wait behind a deferred answer: no more until they are parsed.
        if answering, parser.hasUnparsedBytes {
            readHeld = true
        } else {
            context.read()
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
            } else if handler.answering {
                handler.checkIdle(at: now + handler.idleTimeout, context: context)
            } else {
                context.close(promise: nil)
            }
        }
    }

    /// A failure below HTTP (TLS) closes the connection.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard open else { return }
        open = false
        context.close(promise: nil)
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
