import EventLog
import Foundation
import NIOHTTP1
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// The Nexus' HTTP routes: health, readiness, metrics and initialization, served in any state;
/// the data API behind `ReadinessMiddleware` (503 `state_not_ready` until the root key is in
/// memory, reference §2.1) and `RefusalMiddleware` (every refusal an `AccessDenied` event).
public struct NexusService: HTTPService {
    public let node: NexusNode
    public let roles: SpikeRoles
    /// The secrets, policies and cipher routes, served once ready.
    public let data: DataAPI

    public init(node: NexusNode, roles: SpikeRoles) {
        self.node = node
        self.roles = roles
        data = DataAPI(store: node.store, roles: roles, maxCipherSize: node.configuration.maxCipherSize)
    }

    public func addRoutes(to router: inout HTTPRouter) {
        router.add(.GET, "/healthz") { _ in .json(["status": "ok"]) }
        router.add(.GET, "/readyz") { [node, roles] request in
            let status = node.status
            // The detail (Keeper URLs, shares in hand, why it is sealed) maps the system for an
            // attacker: the superuser sees it, anyone else the state alone.
            let shown = roles.has(request.peer, .superuser) ? status : status.withoutDetail
            return .json(shown, status: status.ready ? .ok : .serviceUnavailable)
        }
        router.add(.GET, "/metrics") { _ in
            .text(metricsText(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.add(.POST, APIRoute.initialize.path) { request in
            guard let route = request.route(at: APIRoute.initialize.path) else { throw APIFailure.badRequest }
            return try await initialization(route, request)
        }
        let refusals = RefusalMiddleware(node: node)
        let readiness = ReadinessMiddleware(node: node)
        let operators = OperatorRoutes(node: node, roles: roles)
        router.add(.POST, APIRoute.operatorRecover.path, through: [refusals]) { request in
            switch request.route(at: APIRoute.operatorRecover.path) {
            case .passwordRecover: return try await passwordRecovery(request)
            case .operatorRecover: return try await operators.exportShards(request)
            default: throw APIFailure.badRequest
            }
        }
        operators.addRoutes(to: &router, refusals: refusals, readiness: readiness)
        data.addRoutes(to: &router, through: [readiness, refusals])
    }

    private func initialization(_ route: APIRoute, _ request: HTTPRequest) async throws -> HTTPResponse {
        guard roles.has(request.peer, .superuser) else { throw APIFailure(.unauthorized) }
        switch route {
        case .initializationCheck: return .json(["state": node.status.state.rawValue] as [String: String])
        case .initialize: break
        default: throw APIFailure.badRequest
        }
        let body = try request.decode(InitializationRequest.self, for: route)
        guard PasswordRule.refusal(of: body.password) == nil else { throw APIFailure(.passwordTooWeak) }
        do {
            try await node.initialize(password: body.password, actor: request.peer.description, trail: request.trail)
            return .json([String: String]())
        } catch .alreadyInitialized {
            throw APIFailure(.alreadyInitialized)
        } catch {
            FileHandle.standardError.write(Data("spike nexus: initialization failed: \(error)\n".utf8))
            throw APIFailure.internalError
        }
    }

    /// `spike recover`: the recover role offers an admin password to a sealed Nexus (SPIKE's
    /// superuser may not). Wrong passwords are recorded and, past a few, spaced out.
    private func passwordRecovery(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard roles.has(request.peer, .recover) else {
            throw APIFailure.denied(.passwordRecover, path: APIRoute.passwordRecover.path, wants: [])
        }
        let body = try request.decode(PasswordRecoveryRequest.self, for: .passwordRecover)
        switch await node.recover(password: body.password, actor: request.peer.description, trail: request.trail) {
        case .restored(let admin):
            return .json(PasswordRecoveryResponse(admin: admin))
        case .wrongPassword:
            throw APIFailure(.passwordIncorrect)
        case .notSealed:
            throw APIFailure(.notSealed)
        case .tooSoon(let millis):
            var response = HTTPResponse.failure(APIFailure(.tooManyAttempts))
            response.headers.replaceOrAdd(name: "Retry-After", value: String((millis + 999) / 1000))
            return response
        case .busy:
            var response = HTTPResponse.failure(APIFailure(.tooManyAttempts))
            response.headers.replaceOrAdd(name: "Retry-After", value: "1")
            return response
        }
    }

    /// Prometheus text exposition (see `NexusMetrics`).
    func metricsText() -> String {
        let status = node.status
        let counts = node.store.counts
        return node.metrics.exposition(NexusMetrics.Sample(
            ready: status.ready, sharesInHand: status.sharesInHand, secrets: counts.secrets, policies: counts.policies,
            logHead: (try? node.log.head()?.sequence) ?? 0, logBytes: Int(clamping: node.log.storedBytes),
            eventsWritten: Int(clamping: node.log.statistics.events)))
    }
}
