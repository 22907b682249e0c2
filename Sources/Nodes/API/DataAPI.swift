import NIOHTTP1
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// SPIKE's data API (reference §2): secrets, policies and encryption as a service, served once
/// the Nexus is ready. Every route decodes its body (400), authorizes (401 `access_unauthorized`,
/// recorded by `RefusalMiddleware` as an `AccessDenied` event), validates (400), then acts.
/// Failures are thrown as `APIFailure`s; `HTTPRouter` answers them.
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

    /// Adds the data routes (one route per path, dispatched on `?action=`) behind `middleware`.
    package func addRoutes(to router: inout HTTPRouter, through middleware: [any HTTPMiddleware]) {
        for path in Set(APIRoute.data.map(\.path)).sorted() {
            router.add(.POST, path, through: middleware, answering: { request in
                guard let route = request.route(at: path) else { throw APIFailure.badRequest }
                do {
                    return try answer(route, request).failing(on: route)
                } catch let failure as APIFailure {
                    throw failure.on(route)
                }
            })
        }
    }

    /// Reads of one secret or policy and the cipher are answered at once, from memory, on the
    /// event loop; lists (as long as the store is large) in a task; writes once durable.
    func answer(_ route: APIRoute, _ request: HTTPRequest) throws -> HTTPAnswer {
        switch route {
        case .secretPut: try putSecret(request)
        case .secretGet: .now(try getSecret(request))
        case .secretDelete, .secretUndelete, .secretDestroy: try changeVersions(route, request)
        case .secretList: .async { try listSecrets(request) }
        case .secretMetadata: .now(try secretMetadata(request))
        case .policyPut: try putPolicy(request)
        case .policyGet: .now(try getPolicy(request))
        case .policyDelete: try deletePolicy(request)
        case .policyList: .async { try listPolicies(request) }
        case .encrypt: .now(try encrypt(request))
        case .decrypt: .now(try decrypt(request))
        case .bootstrapVerify: .now(try verifyBootstrap(request))
        case .initialize, .initializationCheck, .operatorRecover, .passwordRecover, .operatorRestore, .operatorRotate,
             .adminAdd, .adminChange, .adminRemove, .adminList:
            // Lifecycle routes: `NexusService` serves them, in any state.
            throw APIFailure.badRequest
        }
    }

    /// `command` queued in the store, answered once it is durable (or refused).
    func written(_ command: DataCommand, _ request: HTTPRequest) -> HTTPAnswer {
        .deferred { [store] reply in
            store.write(command, actor: request.peer.description, trail: request.trail) { outcome in
                reply(Result { try Self.response(outcome) })
            }
        }
    }

    // MARK: - Authorization (reference §2.2)

    /// Superusers may do anything; lite workloads may use the cipher only; anyone else needs one
    /// policy granting every permission in `wants` on `path`. A refusal is thrown for
    /// `RefusalMiddleware` to record.
    func authorize(_ route: APIRoute, path: String, wants permission: Permission, _ request: HTTPRequest) throws(APIFailure) {
        let allowed = Authorization(roles: roles).allows(request.peer, isCipher: route.isCipher, path: path, wants: Self.alone(permission),
                                                         policies: store.projection)
        if !allowed { throw .denied(route, path: Self.boundedPath(path), wants: [permission]) }
    }

    /// Each route wants one permission: its set is made once, not for every request.
    private static func alone(_ permission: Permission) -> Set<Permission> {
        switch permission {
        case .read: wantsRead
        case .write: wantsWrite
        case .list: wantsList
        case .execute: wantsExecute
        case .super: wantsSuper
        }
    }

    private static let wantsRead: Set<Permission> = [.read], wantsWrite: Set<Permission> = [.write], wantsList: Set<Permission> = [.list]
    private static let wantsExecute: Set<Permission> = [.execute], wantsSuper: Set<Permission> = [.super]

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
    static let ok = HTTPResponse.json([String: String]())

    /// The answer to a write's outcome.
    static func response(_ outcome: DataOutcome) throws(APIFailure) -> HTTPResponse {
        switch outcome {
        case .done: return ok
        case .notFound: throw .notFound
        case .versionMismatch: throw APIFailure(.versionMismatch)
        case .invalid: throw APIFailure(.entityInvalid)
        case .notReady, .sealedForAnotherEpoch: throw .notReady
        case .failed: throw .internalError
        case .storageFull: throw APIFailure(.storageFull)
        case .storeUnavailable: throw APIFailure(.storeUnavailable)
        }
    }
}
