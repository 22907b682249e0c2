import Foundation
import NIOHTTP1
import SpikeAPI

/// A route's handler: it answers, or throws an `APIFailure` (anything else is a 500).
public typealias HTTPHandler = @Sendable (HTTPRequest) async throws -> HTTPResponse

/// A step around a group of routes (readiness, the recording of refusals): it answers itself,
/// or passes the request on to `next`.
public protocol HTTPMiddleware: Sendable {
    func handle(_ request: HTTPRequest, next: HTTPHandler) async throws -> HTTPResponse
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
    }

    private var routes: [Key: HTTPHandler] = [:]

    public init() {}

    /// Adds the handler of `method path`, behind `middleware` (outermost first).
    public mutating func add(_ method: HTTPMethod, _ path: String, through middleware: [any HTTPMiddleware] = [],
                             _ handler: @escaping HTTPHandler) {
        let wrapped = middleware.reversed().reduce(handler) { next, step in
            { request in try await step.handle(request, next: next) }
        }
        routes[Key(method, path)] = wrapped
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        guard let handler = routes[Key(request.method, request.path)] else { return .failure(.badRequest) }
        do {
            return try await handler(request)
        } catch let failure as APIFailure {
            return .failure(failure)
        } catch {
            FileHandle.standardError.write(Data("spike: \(request.method) \(request.path) failed: \(type(of: error))\n".utf8))
            return .failure(.internalError)
        }
    }
}
