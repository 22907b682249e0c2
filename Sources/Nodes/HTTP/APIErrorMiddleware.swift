import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SpikeAPI

/// Answers every failure with SPIKE's codes-only error body: an `APIFailure` as it says; no
/// route for the path and method (Hummingbird's 404) as SPIKE does, 400 `api_bad_request`; a
/// body over the limit 413 (nothing of it is kept beyond the limit); a body that is not the route's JSON 400; anything else 500
/// `api_internal_error`, reported on stderr without the request (it may hold a secret).
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = SPIFFERequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let failure as APIFailure {
            return Response.failure(failure)
        } catch is NIOTooManyBytesError {
            return Response.failure(APIFailure(.badRequest, status: .contentTooLarge))
        } catch let error as HTTPError {
            switch error.status {
            case .notFound, .methodNotAllowed, .badRequest: return Response.failure(.badRequest)
            case .contentTooLarge: return Response.failure(APIFailure(.badRequest, status: .contentTooLarge))
            default: return Response.failure(APIFailure(.internalError, status: error.status))
            }
        } catch {
            FileHandle.standardError.write(Data("spike: \(request.method) \(request.uri.path) failed: \(type(of: error))\n".utf8))
            return Response.failure(.internalError)
        }
    }
}
