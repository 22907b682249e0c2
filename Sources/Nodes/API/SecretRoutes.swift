import Foundation
import NIOHTTP1
import NexusCore
import NIOCore
import Projections
import SPIFFE
import SpikeAPI

/// The secret routes (reference §2.3–2.4, §4.1).
extension DataAPI {
    func putSecret(_ request: HTTPRequest) throws -> HTTPAnswer {
        let body = try request.decode(SecretPutRequest.self, for: .secretPut)
        try authorize(.secretPut, path: body.path, wants: .write, request)
        let values = body.values ?? [:]
        guard Validation.isValidSecretPath(body.path), values.keys.allSatisfy(Validation.isValidName) else { throw APIFailure.badRequest }
        if let cas = body.cas, cas < 0 { throw APIFailure.badRequest }
        let sealed = try seal(values, path: body.path)
        return .deferred { reply in put(values, sealed: sealed, path: body.path, cas: body.cas, request, sealsLeft: 2, reply) }
    }

    /// A rotation that swaps the keys between the seal and the commit sends the value back to be
    /// sealed again under the new ones (it happens once per rotation at most, per write).
    private func put(_ values: [String: String], sealed: VersionSeal.Sealed, path: String, cas: Int?, _ request: HTTPRequest,
                     sealsLeft: Int, _ reply: @escaping HTTPReply) {
        store.write(.putSecret(path: path, sealed: sealed, cas: cas), actor: request.peer.description, trail: request.trail) { outcome in
            guard outcome == .sealedForAnotherEpoch, sealsLeft > 0 else { return reply(Result { try Self.response(outcome) }) }
            do {
                put(values, sealed: try seal(values, path: path), path: path, cas: cas, request, sealsLeft: sealsLeft - 1, reply)
            } catch {
                reply(.failure(error))
            }
        }
    }

    private func seal(_ values: [String: String], path: String) throws -> VersionSeal.Sealed {
        guard let sealed = try store.seal(values, path: path) else { throw APIFailure.notReady }
        return sealed
    }

    func getSecret(_ request: HTTPRequest) throws -> HTTPResponse {
        let body = try request.decode(SecretReadRequest.self, for: .secretGet)
        try authorize(.secretGet, path: body.path, wants: .read, request)
        guard Validation.isValidSecretPath(body.path) else { throw APIFailure.badRequest }
        // `{"data":` + the sealed JSON object, opened into the response + `}`: the value is never
        // decoded here.
        var response = HTTPResponse.bodyWithHeadroom(capacity: 128)
        response.writeStaticString(#"{"data":"#)
        switch store.secretJSON(body.path, version: body.version ?? 0, appendingTo: &response) {
        case .appended:
            response.writeStaticString("}")
            return .json(body: response)
        case .notFound: throw APIFailure.notFound
        case .notReady: throw APIFailure.notReady
        case .damaged(let problem):
            FileHandle.standardError.write(Data("spike nexus: the key table is damaged: \(problem); `spike log verify --password` lists every such version\n".utf8))
            throw APIFailure.internalError
        }
    }

    func changeVersions(_ route: APIRoute, _ request: HTTPRequest) throws -> HTTPAnswer {
        let body = try request.decode(SecretVersionsRequest.self, for: route)
        // Delete and undelete reverse each other: `write` may do both. Destroy cannot be undone
        // (the versions' keys are shredded): it wants `super` on the path.
        try authorize(route, path: body.path, wants: route == .secretDestroy ? .super : .write, request)
        guard Validation.isValidSecretPath(body.path) else { throw APIFailure.badRequest }
        let versions = body.versions ?? []
        let command: DataCommand = switch route {
        case .secretDelete: .deleteSecret(path: body.path, versions: versions)
        case .secretUndelete: .undeleteSecret(path: body.path, versions: versions)
        default: .destroySecret(path: body.path, versions: versions)
        }
        return written(command, request)
    }

    func listSecrets(_ request: HTTPRequest) throws -> HTTPResponse {
        _ = try request.decode(EmptyRequest.self, for: .secretList)
        try authorize(.secretList, path: ReservedPaths.secretList, wants: .list, request)
        return .json(SecretListResponse(keys: store.secretPaths()))
    }

    func secretMetadata(_ request: HTTPRequest) throws -> HTTPResponse {
        let body = try request.decode(SecretReadRequest.self, for: .secretMetadata)
        try authorize(.secretMetadata, path: body.path, wants: .read, request)
        guard Validation.isValidSecretPath(body.path) else { throw APIFailure.badRequest }
        guard let entry = store.metadata(body.path, version: body.version ?? 0) else { throw APIFailure.notFound }
        return .json(SecretMetadataResponse(entry))
    }
}
