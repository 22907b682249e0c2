import Foundation
import NIOHTTP1
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// Records every refused permission as an `AccessDenied` event (who, what operation, which
/// path, which permissions), then lets the refusal be answered: the audit trail of attempts.
/// While the data store is locked (a sealed Nexus), the lifecycle records it instead.
struct RefusalMiddleware: HTTPMiddleware {
    let node: NexusNode
    var store: NexusStore { node.store }
    var metrics: NexusMetrics { node.metrics }

    func handle(_ request: HTTPRequest, next: HTTPHandler) async throws -> HTTPResponse {
        do {
            return try await next(request)
        } catch let failure as APIFailure {
            if let denial = failure.denial {
                metrics.refused()
                // A refusal the log cannot take is still a refusal: the answer stays 401.
                let outcome = await store.write(.denyAccess(operation: denial.operation, path: denial.path, wants: denial.wants),
                                                actor: request.peer.description, trail: request.trail)
                if outcome == .notReady {
                    let denied = AccessDenied(operation: denial.operation, path: denial.path, wants: denial.wants.map(\.rawValue),
                                              at: Int64(Date().timeIntervalSince1970 * 1000))
                    node.recordRefusal(denied, actor: request.peer.description, trail: request.trail)
                }
            }
            throw failure
        }
    }
}
