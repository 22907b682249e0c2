import NIOCore
import NIOEmbedded
import NIOHTTP1
@testable import SpikeClient
import Testing

/// The client's `FlushCoalescer`: what the HTTP encoder writes for one request leaves for the TLS
/// handler as one write (one TLS record), byte for byte what the encoder wrote.
struct FlushCoalescerTests {
    private static let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/store/secrets?action=get",
                                              headers: ["Host": "127.0.0.1:8553", "Content-Length": "21", "Content-Type": "application/json"])
    private static let body = ByteBuffer(string: #"{"path":"bench/read"}"#)

    /// The buffers that reach the channel's end for one request written and flushed.
    private static func written(coalescing: Bool) throws -> [ByteBuffer] {
        let channel = EmbeddedChannel()
        if coalescing { try channel.pipeline.syncOperations.addHandler(FlushCoalescer()) }
        try channel.pipeline.syncOperations.addHandler(HTTPRequestEncoder())
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        var buffers: [ByteBuffer] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { buffers.append(buffer) }
        _ = try channel.finish()
        return buffers
    }

    @Test func aRequestsHeadAndBodyLeaveAsOneWrite() throws {
        let alone = try Self.written(coalescing: false)
        let coalesced = try Self.written(coalescing: true)
        #expect(alone.filter { $0.readableBytes > 0 }.count == 2)  // what made two TLS records
        #expect(coalesced.count == 1)
        #expect(coalesced.first.map { Array($0.readableBytesView) } == alone.flatMap { Array($0.readableBytesView) })
    }

    @Test func nothingLeavesBeforeTheFlushAndEveryPromiseCompletesWithTheWrite() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescer())
        let first = channel.eventLoop.makePromise(of: Void.self)
        let second = channel.eventLoop.makePromise(of: Void.self)
        channel.write(ByteBuffer(string: "GET / HTTP/1.1\r\n"), promise: first)
        channel.write(ByteBuffer(string: "Host: a\r\n\r\n"), promise: second)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        var firstDone = false
        first.futureResult.whenSuccess { firstDone = true }
        channel.flush()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(firstDone)
        try second.futureResult.wait()
        #expect(try channel.finish().isClean)
    }

    @Test func aCloseFailsTheWritesNotFlushed() throws {
        let channel = EmbeddedChannel(handler: FlushCoalescer())
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.write(ByteBuffer(string: "never flushed"), promise: promise)
        var failure: (any Error)?
        promise.futureResult.whenFailure { failure = $0 }
        try channel.close().wait()
        #expect(failure as? ChannelError == .ioOnClosedChannel)
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
    }
}
