import NIOHTTP1
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// The policy routes (reference §2.3–2.4, §4.2). A missing policy is 404 (SPIKE answers 500).
extension DataAPI {
    func putPolicy(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        guard let body = request.decodeJSON(PolicyPutRequest.self) else { return Self.badRequest }
        guard await authorize(request, .policyPut, path: ReservedPaths.acl, wants: [.write], trail: trail) else { return Self.unauthorized }
        let names = body.permissions ?? []
        let permissions = names.compactMap(Permission.init(rawValue:))
        guard Validation.isValidName(body.name), Validation.isValidSPIFFEIDPattern(body.spiffeidPattern),
              Validation.isValidPathPattern(body.pathPattern), !names.isEmpty, permissions.count == names.count
        else { return Self.badRequest }
        return Self.response(await store.write(
            .putPolicy(name: body.name, spiffeidPattern: body.spiffeidPattern, pathPattern: body.pathPattern, permissions: permissions),
            actor: request.peer.description, trail: trail))
    }

    func getPolicy(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        guard let body = request.decodeJSON(PolicyNameRequest.self) else { return Self.badRequest }
        guard await authorize(request, .policyGet, path: ReservedPaths.acl, wants: [.read], trail: trail) else { return Self.unauthorized }
        guard Validation.isValidName(body.id) else { return Self.badRequest }
        guard let policy = store.policy(named: body.id) else { return Self.notFound }
        return .json(PolicyResponse(policy))
    }

    func deletePolicy(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        guard let body = request.decodeJSON(PolicyNameRequest.self) else { return Self.badRequest }
        guard await authorize(request, .policyDelete, path: ReservedPaths.acl, wants: [.write], trail: trail) else { return Self.unauthorized }
        guard Validation.isValidName(body.id) else { return Self.badRequest }
        return Self.response(await store.write(.deletePolicy(name: body.id), actor: request.peer.description, trail: trail))
    }

    /// Filters are exact string equality on the stored pattern; the SPIFFE ID filter wins.
    func listPolicies(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        guard let body = request.decodeJSON(PolicyListRequest.self) else { return Self.badRequest }
        guard await authorize(request, .policyList, path: ReservedPaths.acl, wants: [.list], trail: trail) else { return Self.unauthorized }
        var policies = store.policies()
        if let pattern = body.spiffeidPattern, !pattern.isEmpty {
            policies = policies.filter { $0.spiffeidPattern == pattern }
        } else if let pattern = body.pathPattern, !pattern.isEmpty {
            policies = policies.filter { $0.pathPattern == pattern }
        }
        return .json(PolicyListResponse(policies: policies.map(PolicyResponse.init)))
    }
}
