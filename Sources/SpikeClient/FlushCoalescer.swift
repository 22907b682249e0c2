import NIOCore

/// Sits in front of the TLS handler and turns the writes of one flush into one write, so that a
/// request goes out as one TLS record: the HTTP encoder writes a request's head and its body
/// separately, and the TLS handler seals every write as a record of its own. A second record
/// costs both ends a seal or an open and a record's framing, about as much as a small request's
/// whole HTTP work (ADR-0030); Go's client, SPIKE's, sends one.
final class FlushCoalescer: ChannelOutboundHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var pending: ByteBuffer?
    private var promises: [EventLoopPromise<Void>] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(var bytes) = unwrapOutboundIn(data) else {
            // A file region is not copied: what waits goes first, in order.
            writePending(context: context)
            context.write(data, promise: promise)
            return
        }
        if pending == nil {
            pending = bytes
        } else {
            pending!.writeBuffer(&bytes)
        }
        if let promise { promises.append(promise) }
    }

    func flush(context: ChannelHandlerContext) {
        writePending(context: context)
        context.flush()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        // Writes not flushed are dropped by a close, as they would be without this handler.
        if mode == .all { failPending(ChannelError.ioOnClosedChannel) }
        context.close(mode: mode, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failPending(ChannelError.ioOnClosedChannel)
    }

    private func writePending(context: ChannelHandlerContext) {
        guard let buffer = pending else { return }
        pending = nil
        let waiting = promises
        promises = []
        let promise: EventLoopPromise<Void>?
        switch waiting.count {
        case 0: promise = nil
        case 1: promise = waiting[0]
        default:
            let all = context.eventLoop.makePromise(of: Void.self)
            all.futureResult.whenComplete { result in waiting.forEach { $0.completeWith(result) } }
            promise = all
        }
        context.write(wrapOutboundOut(.byteBuffer(buffer)), promise: promise)
    }

    private func failPending(_ error: any Error) {
        pending = nil
        let waiting = promises
        promises = []
        for promise in waiting { promise.fail(error) }
    }
}
