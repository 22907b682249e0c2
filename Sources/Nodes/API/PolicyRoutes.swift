import NIOHTTP1
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// The policy routes (reference §2.3–2.4, §4.2). A missing policy is 404 (SPIKE answers 500).
extension DataAPI {
    func putPolicy(_ request: HTTPRequest) throws -> HTTPAnswer {
        let body = try request.decode(PolicyPutRequest.self, for: .policyPut)
        try authorize(.policyPut, path: ReservedPaths.acl, wants: .write, request)
        let names = body.permissions ?? []
        let permissions = names.compactMap(Permission.init(rawValue:))
        guard Validation.isValidName(body.name), Validation.isValidSPIFFEIDPattern(body.spiffeidPattern),
              Validation.isValidPathPattern(body.pathPattern), !names.isEmpty, permissions.count == names.count
        else { throw APIFailure.badRequest }
        return written(.putPolicy(name: body.name, spiffeidPattern: body.spiffeidPattern, pathPattern: body.pathPattern,
                                  permissions: permissions), request)
    }

    func getPolicy(_ request: HTTPRequest) throws -> HTTPResponse {
        let body = try request.decode(PolicyNameRequest.self, for: .policyGet)
        try authorize(.policyGet, path: ReservedPaths.acl, wants: .read, request)
        guard Validation.isValidName(body.id) else { throw APIFailure.badRequest }
        guard let policy = store.policy(named: body.id) else { throw APIFailure.notFound }
        return .json(PolicyResponse(policy))
    }

    func deletePolicy(_ request: HTTPRequest) throws -> HTTPAnswer {
        let body = try request.decode(PolicyNameRequest.self, for: .policyDelete)
        try authorize(.policyDelete, path: ReservedPaths.acl, wants: .write, request)
        guard Validation.isValidName(body.id) else { throw APIFailure.badRequest }
        return written(.deletePolicy(name: body.id), request)
    }

    /// Filters are exact string equality on the stored pattern; the SPIFFE ID filter wins.
    func listPolicies(_ request: HTTPRequest) throws -> HTTPResponse {
        let body = try request.decode(PolicyListRequest.self, for: .policyList)
        try authorize(.policyList, path: ReservedPaths.acl, wants: .list, request)
        var policies = store.policies()
        if let pattern = body.spiffeidPattern, !pattern.isEmpty {
            policies = policies.filter { $0.spiffeidPattern == pattern }
        } else if let pattern = body.pathPattern, !pattern.isEmpty {
            policies = policies.filter { $0.pathPattern == pattern }
        }
        return .json(PolicyListResponse(policies: policies.map(PolicyResponse.init)))
    }
}
