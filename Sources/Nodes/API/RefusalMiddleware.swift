import Hummingbird
import NexusCore
import SPIFFE
import SpikeAPI

/// Records every refused permission as an `AccessDenied` event (who, what operation, which
/// path, which permissions), then lets the refusal be answered: the audit trail of attempts.
struct RefusalMiddleware: RouterMiddleware {
    typealias Context = SPIFFERequestContext

    let store: NexusStore
    let metrics: NexusMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let failure as APIFailure {
            if let denial = failure.denial {
                metrics.refused()
                // A refusal the log cannot take is still a refusal: the answer stays 401.
                _ = await store.write(.denyAccess(operation: denial.operation, path: denial.path, wants: denial.wants),
                                      actor: context.peer.description, trail: context.trail)
            }
            throw failure
        }
    }
}

/// Answers the data routes 503 `state_not_ready` until the Nexus serves (its root key is in
/// memory and its log's data events are confirmed; reference §2.1).
struct ReadinessMiddleware: RouterMiddleware {
    typealias Context = SPIFFERequestContext

    let node: NexusNode

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard node.status.ready else { throw APIFailure.notReady }
        return try await next(request, context)
    }
}
