import NIOHTTP1
import Projections
import SpikeAPI

/// A request that did not succeed, as a route throws it: SPIKE's error code and HTTP status,
/// the route (its error body's shape), and, for a refused permission, what was refused
/// (`RefusalMiddleware` records it as an `AccessDenied` event). `HTTPRouter` turns it into
/// the response.
public struct APIFailure: Error, Sendable {
    public var code: APIErrorCode
    public var status: HTTPResponseStatus
    public var route: APIRoute?
    public var denial: Denial?

    /// A permission the caller lacks on a path.
    public struct Denial: Sendable {
        public var operation: String
        public var path: String
        public var wants: [Permission]
    }

    public init(_ code: APIErrorCode, status: HTTPResponseStatus? = nil, route: APIRoute? = nil) {
        self.code = code
        self.status = status ?? Self.status(of: code)
        self.route = route
    }

    /// A refusal to record: 401 `access_unauthorized`.
    static func denied(_ route: APIRoute, path: String, wants: [Permission]) -> APIFailure {
        var failure = APIFailure(.unauthorized, route: route)
        failure.denial = Denial(operation: route.operation, path: path, wants: wants)
        return failure
    }

    /// The status SPIKE answers each code with.
    static func status(of code: APIErrorCode) -> HTTPResponseStatus {
        switch code {
        case .badRequest, .entityInvalid, .passwordTooWeak: .badRequest
        case .unauthorized: .unauthorized
        case .notFound, .entityNotFound: .notFound
        case .versionMismatch, .alreadyInitialized, .notSealed, .adminExists, .lastAdmin, .rotationImpossible: .conflict
        case .passwordIncorrect, .shardsIncorrect: .forbidden
        case .tooManyAttempts: .tooManyRequests
        case .notReady, .storeUnavailable: .serviceUnavailable
        case .internalError: .internalServerError
        case .storageFull: .insufficientStorage
        }
    }

    static let badRequest = APIFailure(.badRequest)
    static let notFound = APIFailure(.notFound)
    static let notReady = APIFailure(.notReady)
    static let internalError = APIFailure(.internalError)

    /// The same failure, answered in `route`'s error shape (unless one was given already).
    func on(_ route: APIRoute) -> APIFailure {
        var failure = self
        if failure.route == nil { failure.route = route }
        return failure
    }
}

extension HTTPAnswer {
    /// The same answer, a deferred failure answered in `route`'s error shape as a thrown one is.
    func failing(on route: APIRoute) -> HTTPAnswer {
        guard case .deferred(let work) = self else { return self }
        return .deferred { reply in
            work { result in reply(result.mapError { ($0 as? APIFailure)?.on(route) ?? $0 }) }
        }
    }
}
