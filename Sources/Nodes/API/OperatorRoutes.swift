import Foundation
import NIOHTTP1
import NexusCore
import Projections
import SecretSharing
import SPIFFE
import SpikeAPI

/// The operator's routes on the root key: SPIKE's recovery shards (`spike operator recover`
/// exports them from a ready Nexus, `spike operator restore` takes them one by one on a sealed
/// one) and this project's admin passwords. Each is a command the lifecycle decides.
struct OperatorRoutes {
    let node: NexusNode
    let roles: SpikeRoles

    func addRoutes(to router: inout HTTPRouter, refusals: RefusalMiddleware, readiness: ReadinessMiddleware) {
        router.add(.POST, APIRoute.operatorRestore.path, through: [refusals]) { request in
            guard request.route(at: APIRoute.operatorRestore.path) == .operatorRestore else { throw APIFailure.badRequest }
            return try await restore(request)
        }
        router.add(.POST, APIRoute.operatorRotate.path, through: [readiness, refusals]) { request in
            guard request.route(at: APIRoute.operatorRotate.path) == .operatorRotate else { throw APIFailure.badRequest }
            return try await rotate(request)
        }
        router.add(.POST, "/v1/operator/admins", through: [readiness, refusals]) { request in
            guard let route = request.route(at: "/v1/operator/admins") else { throw APIFailure.badRequest }
            return try await admins(route, request)
        }
    }

    /// `POST /v1/operator/recover` (no action): the recovery shards of a ready Nexus, recover
    /// role only. Answered once `RecoveryShardsExported` is durable.
    func exportShards(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard roles.has(request.peer, .recover) else {
            throw APIFailure.denied(.operatorRecover, path: APIRoute.operatorRecover.path, wants: [])
        }
        _ = try request.decode(EmptyRequest.self, for: .operatorRecover)
        let outcome = await node.operate(.exportShards, actor: request.peer.description, trail: request.trail)
        guard case .shards(var shares) = outcome else { throw failure(outcome, on: .operatorRecover) }
        defer { for index in shares.indices { Shamir.zero(&shares[index].value) } }
        return .json(RecoveryShardsResponse(shards: Dictionary(uniqueKeysWithValues: shares.map { (String($0.index), $0.value) })))
    }

    /// `POST /v1/operator/restore`: one recovery shard for a sealed Nexus, restore role only.
    /// Unlike SPIKE's, a malformed, all-zero or out-of-range shard is a 400, a ready Nexus
    /// refuses (409), and shards that do not combine to the root key are refused (403).
    private func restore(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard roles.has(request.peer, .restore) else {
            throw APIFailure.denied(.operatorRestore, path: APIRoute.operatorRestore.path, wants: [])
        }
        var body = try request.decode(ShardRestoreRequest.self, for: .operatorRestore)
        defer { Shamir.zero(&body.shard) }
        guard (1...255).contains(body.id), body.shard.count == Shamir.secretLength, body.shard.contains(where: { $0 != 0 }) else {
            throw APIFailure(.badRequest, route: .operatorRestore)
        }
        let share = Shamir.Share(index: UInt8(body.id), value: body.shard)
        let outcome = await node.operate(.restoreShard(share), actor: request.peer.description, trail: request.trail)
        switch outcome {
        case .shardCollected(let collected, let remaining):
            return .json(ShardRestoreResponse(collected: collected, remaining: remaining, restored: false))
        case .restored(let collected):
            return .json(ShardRestoreResponse(collected: collected, remaining: 0, restored: true))
        default:
            throw failure(outcome, on: .operatorRestore)
        }
    }

    /// `POST /v1/operator/rotate` (superuser): a new root key and epoch, the data kept
    /// (ADR-0009). Answered once the rotation is durable; the Keepers get their new shares next.
    private func rotate(_ request: HTTPRequest) async throws -> HTTPResponse {
        guard roles.has(request.peer, .superuser) else {
            throw APIFailure.denied(.operatorRotate, path: APIRoute.operatorRotate.path, wants: [])
        }
        _ = try request.decode(EmptyRequest.self, for: .operatorRotate)
        let outcome = await node.operate(.rotate, actor: request.peer.description, trail: request.trail)
        guard case .rotated(let epoch, let exported) = outcome else { throw failure(outcome, on: .operatorRotate) }
        return .json(RotationResponse(epoch: epoch, recoveryFilesInvalidated: exported))
    }

    /// `POST /v1/operator/admins?action=add|change|remove|list` (superuser): each admin's
    /// password wraps the root key on its own.
    private func admins(_ route: APIRoute, _ request: HTTPRequest) async throws -> HTTPResponse {
        guard [.adminAdd, .adminChange, .adminRemove, .adminList].contains(route) else { throw APIFailure.badRequest }
        guard roles.has(request.peer, .superuser) else {
            throw APIFailure.denied(route, path: route.path, wants: [])
        }
        let (actor, trail) = (request.peer.description, request.trail)
        let outcome: OperatorOutcome
        if route == .adminList {
            _ = try request.decode(EmptyRequest.self, for: route)
            outcome = await node.operate(.listAdmins, actor: actor, trail: trail)
        } else {
            let body = try request.decode(AdminPasswordRequest.self, for: route)
            guard AdminPasswordRequest.isValidName(body.name) else { throw APIFailure(.badRequest, route: route) }
            switch route {
            case .adminRemove:
                outcome = await node.operate(.removeAdmin(body.name), actor: actor, trail: trail)
            default:
                guard let password = body.password else { throw APIFailure(.badRequest, route: route) }
                guard PasswordRule.refusal(of: password) == nil else { throw APIFailure(.passwordTooWeak, route: route) }
                let command: OperatorCommand = route == .adminAdd ? .addAdmin(body.name) : .changeAdmin(body.name)
                outcome = await node.operate(command, password: password, actor: actor, trail: trail)
            }
        }
        switch outcome {
        case .adminsChanged:
            return .json([String: String]())
        case .admins(let admins):
            return .json(AdminListResponse(admins: admins.map { .init(name: $0.name, since: $0.at.map(APITime.format)) }))
        default:
            throw failure(outcome, on: route)
        }
    }

    /// The API failure an operator refusal answers with.
    private func failure(_ outcome: OperatorOutcome, on route: APIRoute) -> APIFailure {
        guard case .refused(let refusal) = outcome else { return APIFailure(.internalError, route: route) }
        let code: APIErrorCode = switch refusal {
        case .notServing, .stopping: .notReady
        case .notSealed: .notSealed
        case .shareIndexOutOfRange: .badRequest
        case .wrongShards: .shardsIncorrect
        case .adminExists: .adminExists
        case .unknownAdmin: .entityNotFound
        case .lastAdmin: .lastAdmin
        case .busy, .rotationPending: .tooManyAttempts
        case .rotationImpossible: .rotationImpossible
        case .wrapFailed: .passwordTooWeak
        case .logFailed: .internalError
        }
        if code == .internalError {
            FileHandle.standardError.write(Data("spike nexus: \(route.operation) failed: \(refusal)\n".utf8))
        }
        return APIFailure(code, route: route)
    }
}
