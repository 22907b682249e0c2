import Hummingbird
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// The policy routes (reference §2.3–2.4, §4.2). A missing policy is 404 (SPIKE answers 500).
extension DataAPI {
    func putPolicy(_ request: Request, _ context: SPIFFERequestContext) async throws -> Response {
        let body = try await request.decode(PolicyPutRequest.self, for: .policyPut, context: context)
        try authorize(.policyPut, path: ReservedPaths.acl, wants: [.write], context)
        let names = body.permissions ?? []
        let permissions = names.compactMap(Permission.init(rawValue:))
        guard Validation.isValidName(body.name), Validation.isValidSPIFFEIDPattern(body.spiffeidPattern),
              Validation.isValidPathPattern(body.pathPattern), !names.isEmpty, permissions.count == names.count
        else { throw APIFailure.badRequest }
        return try Self.response(await store.write(
            .putPolicy(name: body.name, spiffeidPattern: body.spiffeidPattern, pathPattern: body.pathPattern, permissions: permissions),
            actor: context.peer.description, trail: context.trail))
    }

    func getPolicy(_ request: Request, _ context: SPIFFERequestContext) async throws -> Response {
        let body = try await request.decode(PolicyNameRequest.self, for: .policyGet, context: context)
        try authorize(.policyGet, path: ReservedPaths.acl, wants: [.read], context)
        guard Validation.isValidName(body.id) else { throw APIFailure.badRequest }
        guard let policy = store.policy(named: body.id) else { throw APIFailure.notFound }
        return .json(PolicyResponse(policy))
    }

    func deletePolicy(_ request: Request, _ context: SPIFFERequestContext) async throws -> Response {
        let body = try await request.decode(PolicyNameRequest.self, for: .policyDelete, context: context)
        try authorize(.policyDelete, path: ReservedPaths.acl, wants: [.write], context)
        guard Validation.isValidName(body.id) else { throw APIFailure.badRequest }
        return try Self.response(await store.write(.deletePolicy(name: body.id), actor: context.peer.description, trail: context.trail))
    }

    /// Filters are exact string equality on the stored pattern; the SPIFFE ID filter wins.
    func listPolicies(_ request: Request, _ context: SPIFFERequestContext) async throws -> Response {
        let body = try await request.decode(PolicyListRequest.self, for: .policyList, context: context)
        try authorize(.policyList, path: ReservedPaths.acl, wants: [.list], context)
        var policies = store.policies()
        if let pattern = body.spiffeidPattern, !pattern.isEmpty {
            policies = policies.filter { $0.spiffeidPattern == pattern }
        } else if let pattern = body.pathPattern, !pattern.isEmpty {
            policies = policies.filter { $0.pathPattern == pattern }
        }
        return .json(PolicyListResponse(policies: policies.map(PolicyResponse.init)))
    }
}
