import Hummingbird
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// SPIKE's data API (reference §2): secrets, policies and encryption as a service, served once
/// the Nexus is ready. Every route decodes its body (400), authorizes (401 `access_unauthorized`,
/// recorded by `RefusalMiddleware` as an `AccessDenied` event), validates (400), then acts.
/// Failures are thrown as `APIFailure`s; `APIErrorMiddleware` answers them.
public struct DataAPI: Sendable {
    public let store: NexusStore
    public let roles: SpikeRoles
    public let maxCipherSize: Int

    public init(store: NexusStore, roles: SpikeRoles, maxCipherSize: Int = 65536) {
        self.store = store
        self.roles = roles
        self.maxCipherSize = maxCipherSize
    }

    /// Every route as (path, action); the OpenAPI document must list exactly these.
    public static var routes: [(path: String, action: String)] { APIRoute.data.map { ($0.path, $0.action) } }

    /// Adds the data routes (one Hummingbird route per path, dispatched on `?action=`) behind
    /// the readiness check and the recording of refusals.
    func addRoutes(to group: RouterGroup<SPIFFERequestContext>) {
        for path in Set(APIRoute.data.map(\.path)).sorted() {
            group.post(RouterPath(path)) { request, context in
                guard let route = request.route(at: path) else { throw APIFailure.badRequest }
                do {
                    return try await respond(route, request, context)
                } catch let failure as APIFailure {
                    throw failure.on(route)
                }
            }
        }
    }

    func respond(_ route: APIRoute, _ request: Request, _ context: SPIFFERequestContext) async throws -> Response {
        switch route {
        case .secretPut: try await putSecret(request, context)
        case .secretGet: try await getSecret(request, context)
        case .secretDelete, .secretUndelete, .secretDestroy: try await changeVersions(route, request, context)
        case .secretList: try await listSecrets(request, context)
        case .secretMetadata: try await secretMetadata(request, context)
        case .policyPut: try await putPolicy(request, context)
        case .policyGet: try await getPolicy(request, context)
        case .policyDelete: try await deletePolicy(request, context)
        case .policyList: try await listPolicies(request, context)
        case .encrypt: try await encrypt(request, context)
        case .decrypt: try await decrypt(request, context)
        case .bootstrapVerify: try await verifyBootstrap(request, context)
        case .initialize, .initializationCheck, .operatorRecover, .operatorRestore:
            // Lifecycle routes: `NexusService` serves them, in any state.
            throw APIFailure.badRequest
        }
    }

    // MARK: - Authorization (reference §2.2)

    /// Superusers may do anything; lite workloads may use the cipher only; anyone else needs one
    /// policy granting every permission in `wants` on `path`. A refusal is thrown for
    /// `RefusalMiddleware` to record.
    func authorize(_ route: APIRoute, path: String, wants: Set<Permission>, _ context: SPIFFERequestContext) throws(APIFailure) {
        let allowed = Authorization(roles: roles).allows(context.peer, isCipher: route.isCipher, path: path, wants: wants,
                                                         policies: store.projection)
        if !allowed { throw .denied(route, path: Self.boundedPath(path), wants: wants.sorted()) }
    }

    /// At most `maxDeniedPathBytes` of a refused request's path (whole characters), so that
    /// refusals cannot grow the log by a request body each.
    static func boundedPath(_ path: String) -> String {
        var bytes = 0
        var kept = String.UnicodeScalarView()
        for scalar in path.unicodeScalars {
            bytes += UTF8.width(scalar)
            guard bytes <= maxDeniedPathBytes else { break }
            kept.append(scalar)
        }
        return String(kept)
    }

    static let maxDeniedPathBytes = 512
    static let ok = Response.json([String: String]())

    /// The answer to a write's outcome.
    static func response(_ outcome: DataOutcome) throws(APIFailure) -> Response {
        switch outcome {
        case .done: return ok
        case .notFound: throw .notFound
        case .versionMismatch: throw APIFailure(.versionMismatch)
        case .invalid: throw APIFailure(.entityInvalid)
        case .notReady: throw .notReady
        case .failed: throw .internalError
        }
    }
}
