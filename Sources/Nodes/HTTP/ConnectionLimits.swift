import NIOCore
import NIOTLS
import Synchronization

/// The limits every server of ours runs with: a peer that does not finish its TLS handshake,
/// sits idle, or opens connection after connection is cut off before it costs memory.
public struct HTTPServerLimits: Sendable {
    /// The largest request body read (larger: 413).
    public var maxBodySize: Int
    /// How long a new connection may take to complete its TLS handshake.
    public var handshakeTimeout: Duration
    /// How long a connection may stay open with nothing read or written.
    public var idleTimeout: Duration
    /// Connections served at once; further ones wait in the listen backlog, unaccepted.
    public var maxConnections: Int
    /// Connections still in their TLS handshake at once: a new one past it closes the oldest of
    /// them that has sent nothing (else the oldest). Peers without an SVID never get past the handshake, so however many sockets they
    /// open they hold at most this many slots, and a peer that completes its handshake in
    /// milliseconds is always let in.
    public var maxHandshakes: Int

    public init(maxBodySize: Int = 1 << 20, handshakeTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(120),
                maxConnections: Int = 1024, maxHandshakes: Int = 128) {
        self.maxBodySize = maxBodySize
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxHandshakes = min(maxHandshakes, maxConnections)
    }
}

/// The connections of one server that have not completed their TLS handshake, oldest first
/// (`HTTPServerLimits.maxHandshakes`). Child channels run on several event loops: a lock.
final class PendingHandshakes: Sendable {
    private let limit: Int
    private let pending = Mutex<[(id: ObjectIdentifier, channel: any Channel, spoke: Bool)]>([])

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// A new connection; when there are too many, the oldest that has sent nothing is closed (else
    /// the oldest). A peer with an SVID sends its hello at once, so a flood of silent sockets
    /// cannot evict its handshake however fast the flood arrives.
    func admit(_ channel: any Channel) {
        let evicted = pending.withLock { pending -> (any Channel)? in
            pending.append((ObjectIdentifier(channel), channel, false))
            guard pending.count > limit else { return nil }
            return pending.remove(at: pending.firstIndex { !$0.spoke } ?? 0).channel
        }
        evicted?.close(promise: nil)
    }

    /// The peer sent its first bytes (a ClientHello, or the start of one).
    func spoke(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        pending.withLock { pending in
            if let index = pending.firstIndex(where: { $0.id == id }) { pending[index].spoke = true }
        }
    }

    /// The handshake completed, or the connection closed.
    func finished(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        pending.withLock { pending in pending.removeAll { $0.id == id } }
    }

    var count: Int { pending.withLock { $0.count } }
}

/// Goes before the TLS handler: tells `PendingHandshakes` when a connection's peer first sends
/// something, then leaves the pipeline.
final class FirstBytesMarker: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let pending: PendingHandshakes

    init(pending: PendingHandshakes) {
        self.pending = pending
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.spoke(context.channel)
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// Closes a connection whose TLS handshake has not completed in time (a peer that connects and
/// sends nothing, or trickles its hello), then leaves the pipeline once the handshake is done
/// (the TLS handler announces it; `HTTPConnectionHandler` starts the idle timer then). Goes right
/// after the TLS handler.
final class HandshakeDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private let pending: PendingHandshakes
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount, pending: PendingHandshakes) {
        self.timeout = timeout
        self.pending = pending
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            bound.value.close(promise: nil)
        }
        pending.admit(context.channel)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        pending.finished(context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pending.finished(context.channel)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        guard case TLSUserEvent.handshakeCompleted = event else { return }
        deadline?.cancel()
        deadline = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// On the listening channel: stops accepting while `limit` connections are open, and accepts
/// again as they close. Connections beyond the limit wait in the kernel's backlog.
final class ConnectionLimitHandler: ChannelDuplexHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel
    typealias OutboundIn = Never

    private let limit: Int
    private var open = 0
    private var readPending = false

    init(limit: Int) {
        self.limit = limit
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        open += 1
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        child.closeFuture.hop(to: context.eventLoop).whenComplete { _ in
            let (handler, context) = bound.value
            handler.open -= 1
            if handler.readPending, handler.open < handler.limit {
                handler.readPending = false
                context.read()
            }
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        guard open < limit else {
            readPending = true
            return
        }
        context.read()
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
