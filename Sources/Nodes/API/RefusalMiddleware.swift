import NIOHTTP1
import NexusCore
import SPIFFE
import SpikeAPI

/// Records every refused permission as an `AccessDenied` event (who, what operation, which
/// path, which permissions), then lets the refusal be answered: the audit trail of attempts.
struct RefusalMiddleware: HTTPMiddleware {
    let store: NexusStore
    let metrics: NexusMetrics

    func handle(_ request: HTTPRequest, next: HTTPHandler) async throws -> HTTPResponse {
        do {
            return try await next(request)
        } catch let failure as APIFailure {
            if let denial = failure.denial {
                metrics.refused()
                // A refusal the log cannot take is still a refusal: the answer stays 401.
                _ = await store.write(.denyAccess(operation: denial.operation, path: denial.path, wants: denial.wants),
                                      actor: request.peer.description, trail: request.trail)
            }
            throw failure
        }
    }
}
