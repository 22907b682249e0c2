import Foundation
import NIOHTTP1
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// Records every refused permission (who, what operation, which path, which permissions) as an
/// `AccessDenied` event, equal ones coalesced (`RefusalLedger`), then lets the refusal be
/// answered: the audit trail of attempts.
struct RefusalMiddleware: HTTPMiddleware {
    let node: NexusNode
    var metrics: NexusMetrics { node.metrics }

    func handle(_ request: HTTPRequest, next: HTTPHandler) async throws -> HTTPResponse {
        do {
            return try await next(request)
        } catch let failure as APIFailure {
            if let denial = failure.denial {
                metrics.refused()
                // A refusal the log cannot take is still a refusal: the answer stays 401.
                await node.refused(RefusalLedger.Key(actor: request.peer.description, operation: denial.operation, path: denial.path,
                                                     wants: denial.wants.map(\.rawValue)), trail: request.trail)
            }
            throw failure
        }
    }
}
