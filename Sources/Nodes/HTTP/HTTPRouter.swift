import Foundation
import NIOHTTP1
import SpikeAPI

/// A route's handler: it answers (`HTTPAnswer`: at once from memory, or deferred), or throws an
/// `APIFailure` (anything else is a 500). It runs on the connection's event loop: it must not
/// block, and anything that waits belongs in a deferred answer.
public typealias HTTPHandler = @Sendable (HTTPRequest) throws -> HTTPAnswer

/// A step around a group of routes (readiness, the recording of refusals): it answers itself,
/// or passes the request on to `next`.
public protocol HTTPMiddleware: Sendable {
    func handle(_ request: HTTPRequest, next: HTTPHandler) throws -> HTTPAnswer
}

/// The routes of a server by method and path (SPIKE routes on `?action=` within a path: the
/// path's handler dispatches on it). Every failure is answered with SPIKE's codes-only body:
/// an `APIFailure` as it says; no route for the path and method 400 `api_bad_request` (as
/// SPIKE answers); anything else 500 `api_internal_error`, reported on stderr with the error's
/// type and nothing of the request (it may hold a secret).
public struct HTTPRouter: Sendable {
    private struct Key: Hashable {
        var method: String
        var path: String

        init(_ method: HTTPMethod, _ path: String) {
            self.method = method.rawValue
            self.path = path
        }

        /// The path alone: a path has one or two methods, and the method is compared on a hit.
        func hash(into hasher: inout Hasher) {
            hasher.combine(path)
        }
    }

    private var routes: [Key: HTTPHandler] = [:]

    public init() {}

    /// Adds the handler of `method path`, behind `middleware` (outermost first).
    public mutating func add(_ method: HTTPMethod, _ path: String, through middleware: [any HTTPMiddleware] = [],
                             answering handler: @escaping HTTPHandler) {
        // Wrapped in a loop, not by a generic `reduce`: a closure made through a generic
        // parameter is called through a reabstraction thunk on every request (one per step).
        var wrapped = handler
        for step in middleware.reversed() {
            let next = wrapped
            wrapped = { request in try step.handle(request, next: next) }
        }
        routes[Key(method, path)] = wrapped
    }

    /// Adds a route whose every answer is async work (`HTTPAnswer.async`).
    public mutating func add(_ method: HTTPMethod, _ path: String, through middleware: [any HTTPMiddleware] = [],
                             _ work: @escaping @Sendable (HTTPRequest) async throws -> HTTPResponse) {
        add(method, path, through: middleware, answering: { request in .async { try await work(request) } })
    }

    /// How the router answers a request: a response at once, or work that hands its response
    /// (once, from any thread) to the function it is started with. Failures are made responses
    /// here: whichever way the answer comes, it is a response.
    public enum Answer {
        case now(HTTPResponse)
        case deferred((_ later: @escaping @Sendable (HTTPResponse) -> Void) -> Void)
    }

    /// The answer to `request`. Nothing is allocated for the reply of an answer made at once.
    public func answer(_ request: HTTPRequest) -> Answer {
        guard let handler = routes[Key(request.method, request.path)] else { return .now(.failure(.badRequest)) }
        do {
            switch try handler(request) {
            case .now(let response):
                return .now(response)
            case .deferred(let work):
                let (method, path) = (request.method, request.path)
                return .deferred { later in
                    work { result in
                        switch result {
                        case .success(let response): later(response)
                        case .failure(let error): later(Self.response(to: error, method: method, path: path))
                        }
                    }
                }
            }
        } catch {
            return .now(Self.response(to: error, method: request.method, path: request.path))
        }
    }

    /// The response to `request`, waited for (tests and the fuzz target; the server never waits).
    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        switch answer(request) {
        case .now(let response): response
        case .deferred(let start): await withCheckedContinuation { continuation in start { continuation.resume(returning: $0) } }
        }
    }

    private static func response(to error: any Error, method: HTTPMethod, path: String) -> HTTPResponse {
        if let failure = error as? APIFailure { return .failure(failure) }
        FileHandle.standardError.write(Data("spike: \(method) \(path) failed: \(type(of: error))\n".utf8))
        return .failure(.internalError)
    }
}
