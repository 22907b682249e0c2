import Foundation
import NIOHTTP1
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// SPIKE's data API (reference §2): secrets, policies and encryption as a service, served once
/// the Nexus is ready. Routes are `POST` + `?action=`; everything else is 400 `api_bad_request`.
/// Every route authorizes first (401 `access_unauthorized`, recorded as an `AccessDenied`
/// event), then validates (400), then acts.
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

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        guard request.method == .POST,
              let route = APIRoute(path: request.path, action: request.query["action"])
        else { return .error(.badRequest, status: .badRequest) }
        let trail = NexusService.trailID()
        switch route {
        case .secretPut: return await putSecret(request, trail: trail)
        case .secretGet: return await getSecret(request, trail: trail)
        case .secretDelete, .secretUndelete, .secretDestroy: return await changeVersions(route, request, trail: trail)
        case .secretList: return await listSecrets(request, trail: trail)
        case .secretMetadata: return await secretMetadata(request, trail: trail)
        case .policyPut: return await putPolicy(request, trail: trail)
        case .policyGet: return await getPolicy(request, trail: trail)
        case .policyDelete: return await deletePolicy(request, trail: trail)
        case .policyList: return await listPolicies(request, trail: trail)
        case .encrypt: return await encrypt(request, trail: trail)
        case .decrypt: return await decrypt(request, trail: trail)
        case .bootstrapVerify: return await verifyBootstrap(request, trail: trail)
        case .initialize, .initializationCheck, .operatorRecover, .operatorRestore:
            // Lifecycle routes: `NexusService` serves them, in any state.
            return .error(.badRequest, status: .badRequest)
        }
    }

    // MARK: - Authorization (reference §2.2)

    /// Superusers may do anything; lite workloads may use the cipher only; anyone else needs one
    /// policy granting every permission in `wants` on `path`. A refusal is recorded.
    func authorize(_ request: HTTPRequest, _ route: APIRoute, path: String, wants: Set<Permission>, trail: String) async -> Bool {
        let peer = request.peer
        let allowed = Authorization(roles: roles).allows(peer, isCipher: route.isCipher, path: path, wants: wants,
                                                         policies: store.projection)
        if !allowed {
            _ = await store.write(.denyAccess(operation: route.operation, path: Self.boundedPath(path), wants: wants.sorted()),
                                  actor: peer.description, trail: trail)
        }
        return allowed
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
    static let unauthorized = HTTPResponse.error(.unauthorized, status: .unauthorized)
    static let badRequest = HTTPResponse.error(.badRequest, status: .badRequest)
    static let notFound = HTTPResponse.error(.notFound, status: .notFound)
    static let notReady = HTTPResponse.error(.notReady, status: .serviceUnavailable)
    static let ok = HTTPResponse.json([String: String]())

    /// The answer to a write's outcome.
    static func response(_ outcome: DataOutcome) -> HTTPResponse {
        switch outcome {
        case .done: ok
        case .notFound: notFound
        case .versionMismatch: .error(.versionMismatch, status: .conflict)
        case .invalid: .error(.entityInvalid, status: .badRequest)
        case .notReady: notReady
        case .failed: .error(.internalError, status: .internalServerError)
        }
    }

}
