import Foundation
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
                    try await self.withChannel(host: host, port: port) { inbound, outbound in
                        var session = HTTPSession(host: host, port: port, inbound: inbound.makeAsyncIterator(), outbound: outbound, keepAlive: false)
                        return try await session.send(method, path: path, body: body, contentType: contentType)
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
            try await self.withChannel(host: host, port: port) { inbound, outbound in
                var session = HTTPSession(host: host, port: port, inbound: inbound.makeAsyncIterator(), outbound: outbound, keepAlive: true)
                return try await body(&session)
            }
        }
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

    private func withChannel<T: Sendable>(
        host: String, port: Int,
        _ body: (NIOAsyncChannelInboundStream<NIOHTTPClientResponseFull>, NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>) async throws -> T
    ) async throws -> T {
        let tls = self.tls
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(tls.makeHandler())
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(NIOHTTPClientResponseAggregator(maxContentLength: 64 << 20))
                    return try NIOAsyncChannel<NIOHTTPClientResponseFull, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in try await body(inbound, outbound) }
    }
}

/// Requests, one after the other, on one open connection (`HTTPClient.withConnection`).
public struct HTTPSession {
    let host: String
    let port: Int
    var inbound: NIOAsyncChannelInboundStream<NIOHTTPClientResponseFull>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    let keepAlive: Bool

    public mutating func post(_ path: String, body: [UInt8], contentType: String = "application/json") async throws -> HTTPClientResponse {
        try await send(.POST, path: path, body: body, contentType: contentType)
    }

    public mutating func send(_ method: HTTPMethod, path: String, body: [UInt8], contentType: String?) async throws -> HTTPClientResponse {
        var headers: HTTPHeaders = ["Host": "\(host):\(port)", "Content-Length": String(body.count)]
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        if let contentType { headers.add(name: "Content-Type", value: contentType) }
        var parts: [HTTPClientRequestPart] = [.head(HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers))]
        if !body.isEmpty { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        parts.append(.end(nil))
        try await outbound.write(contentsOf: parts)
        guard let response = try await inbound.next() else { throw ChannelError.eof }
        return HTTPClientResponse(status: response.head.status, headers: response.head.headers,
                                  body: response.body.map { Array($0.readableBytesView) } ?? [])
    }
}
