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

    func handle(_ request: HTTPRequest, next: HTTPHandler) throws -> HTTPAnswer {
        let answer: HTTPAnswer
        do {
            answer = try next(request)
        } catch let failure as APIFailure where failure.denial != nil {
            return .async {
                await record(failure, of: request)
                throw failure
            }
        }
        // A route that answers at once has not refused; a deferred one may yet.
        guard case .deferred(let work) = answer else { return answer }
        return .deferred { reply in
            work { result in
                guard case .failure(let failure as APIFailure) = result, failure.denial != nil else { return reply(result) }
                Task {
                    await record(failure, of: request)
                    reply(result)
                }
            }
        }
    }

    /// The refusal is answered once its event is durable (or the log refused it: a refusal the
    /// log cannot take is still a refusal, and the answer stays 401).
    private func record(_ failure: APIFailure, of request: HTTPRequest) async {
        guard let denial = failure.denial else { return }
        metrics.refused()
        await node.refused(RefusalLedger.Key(actor: request.peer.description, operation: denial.operation, path: denial.path,
                                             wants: denial.wants.map(\.rawValue)), trail: request.trail)
    }
}
