import EventLog
import Foundation
import Hummingbird
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

    public func addRoutes(to router: Router<SPIFFERequestContext>) {
        router.get("/healthz") { _, _ in Response.json(["status": "ok"] as [String: String]) }
        router.get("/readyz") { _, _ in
            let status = node.status
            return Response.json(status, status: status.ready ? .ok : .serviceUnavailable)
        }
        router.get("/metrics") { _, _ in
            Response.text(metricsText(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.post(RouterPath(APIRoute.initialize.path)) { request, context in
            guard let route = request.route(at: APIRoute.initialize.path) else { throw APIFailure.badRequest }
            return try await initialization(route, request, context)
        }
        for route in [APIRoute.operatorRecover, .operatorRestore] {
            // Served in any state by SPIKE; their implementation comes with the recovery work.
            router.post(RouterPath(route.path)) { _, _ -> Response in throw APIFailure.badRequest }
        }
        let guarded = router.group()
            .add(middleware: ReadinessMiddleware(node: node))
            .add(middleware: RefusalMiddleware(store: node.store, metrics: node.metrics))
        data.addRoutes(to: guarded)
    }

    private func initialization(_ route: APIRoute, _ request: Request, _ context: SPIFFERequestContext) async throws -> Response {
        guard roles.has(context.peer, .superuser) else { throw APIFailure(.unauthorized) }
        switch route {
        case .initializationCheck: return .json(["state": node.status.state.rawValue] as [String: String])
        case .initialize: break
        default: throw APIFailure.badRequest
        }
        let body = try await request.decode(InitializationRequest.self, for: route, context: context)
        guard body.password.utf8.count >= PasswordWrap.minimumPasswordLength else { throw APIFailure(.passwordTooWeak) }
        do {
            try await node.initialize(password: body.password, actor: context.peer.description, trail: context.trail)
            return .json([String: String]())
        } catch .alreadyInitialized {
            throw APIFailure(.alreadyInitialized)
        } catch {
            FileHandle.standardError.write(Data("spike nexus: initialization failed: \(error)\n".utf8))
            throw APIFailure.internalError
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
