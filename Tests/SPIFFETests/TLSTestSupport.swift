import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SPIFFE
import SPIFFETLS
import Testing

/// A loopback server over SPIFFE mutual TLS on a port the kernel picks: it greets each client
/// with `hello <client SPIFFE ID>` once the handshake has validated it, then echoes lines.
final class GreetingServer: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    init(tls: SPIFFETLS) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(tls.makeHandler())
                    try child.pipeline.syncOperations.addHandler(GreetingHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async throws { try await channel.close() }
}

final class GreetingHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            let channel = context.channel
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            channel.spiffePeerID().whenSuccess { id in
                let context = loopBound.value
                context.writeAndFlush(NIOAny(ByteBuffer(string: "hello \(id.map(String.init(describing:)) ?? "?")\n")), promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

/// A client connection that hands out the lines it receives.
final class LineClient: @unchecked Sendable {
    let channel: any Channel
    private let lines: LineCollector

    init(tls: SPIFFETLS?, port: Int, plainTLS: NIOSSLContext? = nil) async throws {
        let collector = LineCollector()
        lines = collector
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(tls.makeHandler()) }
                    if let plainTLS {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: plainTLS, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    /// The next line, or an error if the connection ends first or nothing comes within 10 s.
    func nextLine() async throws -> String {
        try await lines.next(on: channel.eventLoop)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    func close() async { try? await channel.close() }
}

final class LineCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    struct ConnectionEnded: Error {}
    struct TimedOut: Error {}

    private var pending = ""
    private var ready: [String] = []
    private var waiters: [EventLoopPromise<String>] = []
    private var ended: (any Error)?

    func next(on loop: any EventLoop) async throws -> String {
        let promise = loop.makePromise(of: String.self)
        loop.execute {
            if !self.ready.isEmpty {
                promise.succeed(self.ready.removeFirst())
            } else if let ended = self.ended {
                promise.fail(ended)
            } else {
                self.waiters.append(promise)
                loop.scheduleTask(in: .seconds(10)) { promise.fail(TimedOut()) }
            }
        }
        return try await promise.futureResult.get()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending += String(buffer: unwrapInboundIn(data))
        while let newline = pending.firstIndex(of: "\n") {
            let line = String(pending[..<newline])
            pending = String(pending[pending.index(after: newline)...])
            if waiters.isEmpty { ready.append(line) } else { waiters.removeFirst().succeed(line) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(ConnectionEnded())
    }

    private func end(_ error: any Error) {
        if ended == nil { ended = error }
        for waiter in waiters { waiter.fail(error) }
        waiters.removeAll()
    }
}

extension LineClient {
    /// The next read fails because the TLS handshake was refused: a TLS error (an alert received,
    /// or our own verification failing), not a timeout and not a plain close, which would pass
    /// for a refusal while proving nothing.
    func expectHandshakeRefused(sourceLocation: SourceLocation = #_sourceLocation) async {
        do {
            let line = try await nextLine()
            Issue.record("the connection was accepted and answered \(line)", sourceLocation: sourceLocation)
        } catch is NIOSSLError {
        } catch is BoringSSLError {
        } catch {
            Issue.record("failed with \(type(of: error)) \(error), not a TLS refusal", sourceLocation: sourceLocation)
        }
    }
}
