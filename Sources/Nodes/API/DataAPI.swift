import Foundation
import NIOHTTP1
import NexusCore
import Projections
import SPIFFE

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

    /// One route of the API: its path and `action`.
    enum Route: String, CaseIterable {
        case secretPut = "/v1/store/secrets?"
        case secretGet = "/v1/store/secrets?get"
        case secretDelete = "/v1/store/secrets?delete"
        case secretUndelete = "/v1/store/secrets?undelete"
        case secretDestroy = "/v1/store/secrets?destroy"
        case secretList = "/v1/store/secrets?list"
        case secretMetadata = "/v1/store/secrets/metadata?get"
        case policyPut = "/v1/acl/policy?"
        case policyGet = "/v1/acl/policy?get"
        case policyDelete = "/v1/acl/policy?delete"
        case policyList = "/v1/acl/policy?list"
        case encrypt = "/v1/cipher/encrypt?"
        case decrypt = "/v1/cipher/decrypt?"
        case bootstrapVerify = "/v1/bootstrap/verify?"

        var path: String { String(rawValue.prefix { $0 != "?" }) }
        var action: String { String(rawValue.drop { $0 != "?" }.dropFirst()) }
        /// The name in `AccessDenied` events.
        var operation: String {
            switch self {
            case .secretPut: "secret.put"
            case .secretGet: "secret.get"
            case .secretDelete: "secret.delete"
            case .secretUndelete: "secret.undelete"
            case .secretDestroy: "secret.destroy"
            case .secretList: "secret.list"
            case .secretMetadata: "secret.metadata"
            case .policyPut: "policy.put"
            case .policyGet: "policy.get"
            case .policyDelete: "policy.delete"
            case .policyList: "policy.list"
            case .encrypt: "cipher.encrypt"
            case .decrypt: "cipher.decrypt"
            case .bootstrapVerify: "bootstrap.verify"
            }
        }
    }

    /// Every route as (path, action); the OpenAPI document must list exactly these.
    public static var routes: [(path: String, action: String)] { Route.allCases.map { ($0.path, $0.action) } }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        guard request.method == .POST,
              let route = Route(rawValue: request.path + "?" + (request.query["action"] ?? ""))
        else { return .error("api_bad_request", status: .badRequest) }
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
        }
    }

    // MARK: - Authorization (reference §2.2)

    /// Superusers may do anything; lite workloads may use the cipher only; anyone else needs one
    /// policy granting every permission in `wants` on `path`. A refusal is recorded.
    func authorize(_ request: HTTPRequest, _ route: Route, path: String, wants: Set<Permission>, trail: String) async -> Bool {
        let peer = request.peer
        let allowed = Authorization(roles: roles).allows(peer, isCipher: route == .encrypt || route == .decrypt, path: path, wants: wants,
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
    static let unauthorized = HTTPResponse.error("access_unauthorized", status: .unauthorized)
    static let badRequest = HTTPResponse.error("api_bad_request", status: .badRequest)
    static let notFound = HTTPResponse.error("api_not_found", status: .notFound)
    static let notReady = HTTPResponse.error("state_not_ready", status: .serviceUnavailable)
    static let ok = HTTPResponse.json([String: String]())

    /// The answer to a write's outcome.
    static func response(_ outcome: DataOutcome) -> HTTPResponse {
        switch outcome {
        case .done: ok
        case .notFound: notFound
        case .versionMismatch: .error("entity_version_mismatch", status: .conflict)
        case .invalid: .error("entity_invalid", status: .badRequest)
        case .notReady: notReady
        case .failed: .error("api_internal_error", status: .internalServerError)
        }
    }

}
