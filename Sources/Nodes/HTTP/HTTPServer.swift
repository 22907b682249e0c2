import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SPIFFETLS
import Synchronization

/// The limits every server of ours runs with: a peer that does not finish its TLS handshake,
/// sits idle, or opens connection after connection is cut off before it costs memory.
public struct HTTPServerLimits: Sendable {
    /// The largest request body read (larger: 413).
    public var maxBodySize: Int
    /// How long a new connection may take to complete its TLS handshake.
    public var handshakeTimeout: Duration
    /// How long a connection may stay open with no request in flight.
    public var idleTimeout: Duration
    /// Connections served at once; further ones wait in the listen backlog.
    public var maxConnections: Int

    public init(maxBodySize: Int = 1 << 20, handshakeTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(120),
                maxConnections: Int = 1024) {
        self.maxBodySize = maxBodySize
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }
}

/// A service's routes, added to the router of the server that serves it.
public protocol HTTPService: Sendable {
    func addRoutes(to router: Router<SPIFFERequestContext>)
}

/// An HTTP/1.1 server (Hummingbird) over SPIFFE mutual TLS: every connection presents an
/// X.509-SVID that the handshake validates and authorizes; routes see the caller's SPIFFE ID in
/// their `SPIFFERequestContext`, and failures as SPIKE's error bodies (`APIErrorMiddleware`).
public final class HTTPServer: Sendable {
    /// The address the kernel bound (a port of 0 picks a free one).
    public let localAddress: SocketAddress
    private let services: ServiceGroup
    private let running: Task<Void, any Error>

    public var port: Int { localAddress.port ?? 0 }

    private init(localAddress: SocketAddress, services: ServiceGroup, running: Task<Void, any Error>) {
        self.localAddress = localAddress
        self.services = services
        self.running = running
    }

    /// Binds `host:port` and serves `service` until `shutdown()`; throws if it cannot bind.
    public static func start(host: String, port: Int, tls: SPIFFETLS, limits: HTTPServerLimits = HTTPServerLimits(),
                             service: some HTTPService) async throws -> HTTPServer {
        let router = Router(context: SPIFFERequestContext.self)
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: PeerIdentityMiddleware(maxBodySize: limits.maxBodySize))
        service.addRoutes(to: router)

        var logger = Logger(label: "spike.http")
        logger.logLevel = .error
        let bound = BoundAddress()
        let application = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                SPIFFEChildChannel(
                    HTTP1Channel(responder: responder, configuration: .init(idleTimeout: TimeAmount(limits.idleTimeout))),
                    tls: tls, handshakeTimeout: TimeAmount(limits.handshakeTimeout))
            },
            configuration: ApplicationConfiguration(
                address: .hostname(host, port: port), reuseAddress: true,
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger)),
            onServerRunning: { channel in bound.resolve(channel.localAddress) },
            logger: logger)
        let services = ServiceGroup(configuration: .init(services: [application], gracefulShutdownSignals: [], logger: logger))
        let running = Task {
            do {
                try await services.run()
                bound.fail(HTTPServerError.stopped)
            } catch {
                bound.fail(error)
                throw error
            }
        }
        do {
            return HTTPServer(localAddress: try await bound.value(), services: services, running: running)
        } catch {
            running.cancel()
            _ = await running.result
            throw error
        }
    }

    /// Stops accepting, lets requests in flight finish, closes the connections, and returns once
    /// the server has stopped.
    public func shutdown() async {
        await services.triggerGracefulShutdown()
        _ = await running.result
    }
}

public enum HTTPServerError: Error, Equatable, Sendable {
    /// The server stopped before it was listening.
    case stopped
    /// It was listening on no address this process can name.
    case noAddress
}

/// The address the server bound, handed from its start-up callback to `start`.
private final class BoundAddress: Sendable {
    private enum State {
        case waiting([CheckedContinuation<SocketAddress, any Error>])
        case done(Result<SocketAddress, any Error>)
    }

    private let state = Mutex(State.waiting([]))

    func resolve(_ address: SocketAddress?) {
        complete(address.map { .success($0) } ?? .failure(HTTPServerError.noAddress))
    }

    func fail(_ error: any Error) { complete(.failure(error)) }

    private func complete(_ result: Result<SocketAddress, any Error>) {
        let waiting: [CheckedContinuation<SocketAddress, any Error>] = state.withLock { state in
            guard case .waiting(let waiting) = state else { return [] }
            state = .done(result)
            return waiting
        }
        for continuation in waiting { continuation.resume(with: result) }
    }

    func value() async throws -> SocketAddress {
        try await withCheckedThrowingContinuation { continuation in
            let done: Result<SocketAddress, any Error>? = state.withLock { state in
                switch state {
                case .waiting(let waiting):
                    state = .waiting(waiting + [continuation])
                    return nil
                case .done(let result):
                    return result
                }
            }
            if let done { continuation.resume(with: done) }
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
