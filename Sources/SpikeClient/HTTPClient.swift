import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SPIFFETLS

/// What came back from a request.
public struct HTTPClientResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]
}

/// Why a request got no response, sorted the way a poller needs: the peer could not be reached,
/// or the TLS handshake (the peer's or our authorization) refused the connection.
public enum HTTPClientError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidURL(String)
    case unreachable(String)
    case refused(String)
    case timedOut(Duration)
    case noResponse(String)

    public var description: String {
        switch self {
        case .invalidURL(let url): "\(url) is not an https://host:port URL"
        case .unreachable(let why): "unreachable: \(why)"
        case .refused(let why): "the TLS handshake failed (a SPIFFE ID was not authorized, or the trust bundles differ): \(why)"
        case .timedOut(let limit): "no response within \(limit)"
        case .noResponse(let why): "the connection ended without a response: \(why)"
        }
    }
}

/// What sends a request and returns its response: `HTTPClient` (a connection per request) and
/// `HTTPConnectionPool` (kept-alive connections).
public protocol HTTPRequestSending: Sendable {
    func send(_ method: HTTPMethod, _ baseURL: String, path: String, body: [UInt8], contentType: String?) async throws(HTTPClientError) -> HTTPClientResponse
}

extension HTTPRequestSending {
    public func post(_ baseURL: String, path: String, body: [UInt8], contentType: String = "application/json") async throws(HTTPClientError) -> HTTPClientResponse {
        try await send(.POST, baseURL, path: path, body: body, contentType: contentType)
    }

    public func get(_ baseURL: String, path: String) async throws(HTTPClientError) -> HTTPClientResponse {
        try await send(.GET, baseURL, path: path, body: [], contentType: nil)
    }
}

/// An HTTP/1.1 client over SPIFFE mutual TLS: one connection per request, a deadline on the
/// whole exchange. The server's SPIFFE ID is checked during the handshake by `tls`' authorizer.
public struct HTTPClient: HTTPRequestSending {
    public let tls: SPIFFETLS
    public let timeout: Duration
    private let group: any EventLoopGroup

    public init(tls: SPIFFETLS, timeout: Duration = .seconds(10), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.tls = tls
        self.timeout = timeout
        self.group = group
    }

    /// The host and port of an `https://host:port` base URL.
    public static func endpoint(_ url: String) throws(HTTPClientError) -> (host: String, port: Int) {
        guard let components = URLComponents(string: url), components.scheme == "https",
              let host = components.host, !host.isEmpty else { throw .invalidURL(url) }
        return (host, components.port ?? 443)
    }

    public func send(_ method: HTTPMethod, _ baseURL: String, path: String, body: [UInt8], contentType: String?) async throws(HTTPClientError) -> HTTPClientResponse {
        let (host, port) = try Self.endpoint(baseURL)
        let timeout = self.timeout
        return try await Self.mapErrors(host: host, port: port) {
            try await withThrowingTaskGroup(of: HTTPClientResponse.self) { tasks in
                tasks.addTask {
                    try await self.withSession(host: host, port: port, keepAlive: false) { session in
                        try await session.send(method, path: path, body: body, contentType: contentType)
                    }
                }
                tasks.addTask {
                    try await Task.sleep(for: timeout)
                    throw HTTPClientError.timedOut(timeout)
                }
                defer { tasks.cancelAll() }
                return try await tasks.next()!
            }
        }
    }

    /// Runs `body` with one kept-alive connection to `baseURL`: its requests go one after the
    /// other on that connection (no per-request timeout: the caller owns the pacing).
    public func withConnection<T: Sendable>(_ baseURL: String, _ body: (inout HTTPSession) async throws -> T) async throws(HTTPClientError) -> T {
        let (host, port) = try Self.endpoint(baseURL)
        return try await Self.mapErrors(host: host, port: port) {
            try await self.withSession(host: host, port: port, keepAlive: true) { session in
                try await body(&session)
            }
        }
    }

    /// A kept-alive connection to `baseURL` whose requests the caller writes itself: its pipeline
    /// is TLS, the HTTP/1.1 client codecs and whole responses, then what `last` adds (on the
    /// channel's event loop), which writes `HTTPClientRequestPart`s and reads
    /// `NIOHTTPClientResponseFull`s. The caller closes it. (The load generator drives its
    /// connections this way, from their event loops.)
    public func connect(_ baseURL: String,
                        last: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void) async throws(HTTPClientError) -> any Channel {
        let (host, port) = try Self.endpoint(baseURL)
        return try await Self.mapErrors(host: host, port: port) { try await connect(host: host, port: port, last: last) }
    }

    private func connect(host: String, port: Int,
                         last: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void) async throws -> any Channel {
        let tls = self.tls
        return try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(tls.makeHandler())
                    try pipeline.addHandler(FlushCoalescer())
                    try pipeline.addHTTPClientHandlers()
                    try pipeline.addHandler(NIOHTTPClientResponseAggregator(maxContentLength: 64 << 20))
                    try last(pipeline)
                }
            }
            .connect(host: host, port: port).get()
    }

    /// Errors from below as `HTTPClientError`, sorted the way a poller needs them.
    private static func mapErrors<T>(host: String, port: Int, _ body: () async throws -> T) async throws(HTTPClientError) -> T {
        do {
            return try await body()
        } catch let error as HTTPClientError {
            throw error
        } catch let error as NIOSSLError {
            throw .refused("\(error)")
        } catch let error as BoringSSLError {
            // With TLS 1.3 a peer's refusal of our certificate arrives as an alert after our
            // side of the handshake is done.
            throw .refused("\(error)")
        } catch let error as ChannelError {
            switch error {
            case .connectTimeout: throw .unreachable("connect timeout")
            case .eof, .ioOnClosedChannel, .alreadyClosed, .outputClosed: throw .noResponse("\(error)")
            default: throw .unreachable("\(error)")
            }
        } catch let error as NIOConnectionError {
            throw .unreachable("cannot connect to \(host):\(port) (\(error.connectionErrors.first.map { "\($0.error)" } ?? "refused"))")
        } catch let error as IOError {
            throw .unreachable("\(host):\(port): \(error)")
        } catch is CancellationError {
            throw .noResponse("cancelled")
        } catch {
            throw .noResponse("\(error)")
        }
    }

    /// A connection for `body`'s session, closed after it. Its requests and their responses are
    /// matched in order by `HTTPClientExchangeHandler`: the request's task hands the request to
    /// the event loop and waits for the response's promise, no stream or writer in between.
    private func withSession<T: Sendable>(host: String, port: Int, keepAlive: Bool,
                                          _ body: (inout HTTPSession) async throws -> T) async throws -> T {
        // The handler is kept from the start: a refusal can remove it from the pipeline at once.
        let made = NIOLockedValueBox<NIOLoopBound<HTTPClientExchangeHandler>?>(nil)
        let channel = try await connect(host: host, port: port) { pipeline in
            let exchanges = HTTPClientExchangeHandler()
            try pipeline.addHandler(exchanges)
            made.withLockedValue { $0 = NIOLoopBound(exchanges, eventLoop: pipeline.eventLoop) }
        }
        let outcome: Result<T, any Error>
        do {
            let exchanges = made.withLockedValue { $0 }!  // set by the initializer, before the connect returned
            var session = HTTPSession(host: host, port: port, channel: channel, exchanges: exchanges, keepAlive: keepAlive)
            outcome = .success(try await body(&session))
        } catch {
            outcome = .failure(error)
        }
        do {
            try await channel.close()
        } catch {
            // Closed already (by the peer, or by the failure being reported), or the close itself
            // failed: what the requests got stands either way, and the socket is released.
        }
        return try outcome.get()
    }
}

/// Requests, one after the other, on one open connection (`HTTPClient.withConnection`).
public struct HTTPSession {
    let host: String
    let port: Int
    let channel: any Channel
    /// The connection's handler, for the error that ended it (read on its event loop).
    let exchanges: NIOLoopBound<HTTPClientExchangeHandler>
    let keepAlive: Bool

    public mutating func post(_ path: String, body: [UInt8], contentType: String = "application/json") async throws -> HTTPClientResponse {
        try await send(.POST, path: path, body: body, contentType: contentType)
    }

    public mutating func send(_ method: HTTPMethod, path: String, body: [UInt8], contentType: String?) async throws -> HTTPClientResponse {
        var headers: HTTPHeaders = ["Host": "\(host):\(port)", "Content-Length": String(body.count)]
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        if let contentType { headers.add(name: "Content-Type", value: contentType) }
        let response = channel.eventLoop.makePromise(of: NIOHTTPClientResponseFull.self)
        let exchange = HTTPClientExchange(head: HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers),
                                          body: body.isEmpty ? nil : ByteBuffer(bytes: body), response: response)
        // A request the channel can no longer take (closed meanwhile) fails its response too, with
        // what closed it if it was an error: a TLS 1.3 server's refusal of our certificate can
        // arrive, and close the connection, before the request is written.
        let exchanges = self.exchanges
        channel.writeAndFlush(exchange).whenFailure { response.fail(exchanges.value.failure ?? $0) }
        let channel = self.channel
        let full = try await withTaskCancellationHandler {
            try await response.futureResult.get()
        } onCancel: {
            // The response will not be waited for: the connection cannot carry the next one.
            channel.close(promise: nil)
        }
        return HTTPClientResponse(status: full.head.status, headers: full.head.headers,
                                  body: full.body.map { Array($0.readableBytesView) } ?? [])
    }
}

/// A request and the promise of its response.
struct HTTPClientExchange {
    var head: HTTPRequestHead
    var body: ByteBuffer?
    var response: EventLoopPromise<NIOHTTPClientResponseFull>
}

/// The last handler of a client connection: writes each request and completes its promise with
/// the next whole response; once the connection fails or closes, every waiting request (and any
/// later one) fails with the first error seen (a TLS refusal, a reset), else `ChannelError.eof`.
final class HTTPClientExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = NIOHTTPClientResponseFull
    typealias OutboundIn = HTTPClientExchange
    typealias OutboundOut = HTTPClientRequestPart

    private var waiting = CircularBuffer<EventLoopPromise<NIOHTTPClientResponseFull>>()
    /// The first error the connection met, if any.
    private(set) var failure: (any Error)?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        if let failure {
            exchange.response.fail(failure)
            promise?.fail(failure)
            return
        }
        waiting.append(exchange.response)
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if let body = exchange.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        waiting.popFirst()?.succeed(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ChannelError.eof)
        context.fireChannelInactive()
    }

    private func fail(_ error: any Error) {
        let first = failure ?? error
        failure = first
        while let response = waiting.popFirst() { response.fail(first) }
    }
}
