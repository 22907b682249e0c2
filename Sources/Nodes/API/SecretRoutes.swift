import Foundation
import NIOHTTP1
import NexusCore
import NIOCore
import Projections
import SPIFFE
import SpikeAPI

/// The secret routes (reference §2.3–2.4, §4.1).
extension DataAPI {
    func putSecret(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decode(SecretPutRequest.self, for: .secretPut)
        try authorize(.secretPut, path: body.path, wants: [.write], request)
        let values = body.values ?? [:]
        guard Validation.isValidSecretPath(body.path), values.keys.allSatisfy(Validation.isValidName) else { throw APIFailure.badRequest }
        if let cas = body.cas, cas < 0 { throw APIFailure.badRequest }
        // A rotation that swaps the keys between the seal and the commit sends the value back to
        // be sealed again under the new ones (it happens once per rotation at most, per write).
        for _ in 0..<3 {
            guard let sealed = try store.seal(values, path: body.path) else { throw APIFailure.notReady }
            let outcome = await store.write(.putSecret(path: body.path, sealed: sealed, cas: body.cas),
                                            actor: request.peer.description, trail: request.trail)
            if outcome != .sealedForAnotherEpoch { return try Self.response(outcome) }
        }
        throw APIFailure.notReady
    }

    func getSecret(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decode(SecretReadRequest.self, for: .secretGet)
        try authorize(.secretGet, path: body.path, wants: [.read], request)
        guard Validation.isValidSecretPath(body.path) else { throw APIFailure.badRequest }
        switch store.secretJSON(body.path, version: body.version ?? 0) {
        case .json(let values):
            // `{"data":` + the sealed JSON object + `}`: the value is never decoded here.
            var body = ByteBuffer()
            body.reserveCapacity(values.count + 9)
            body.writeString(#"{"data":"#)
            body.writeBytes(values)
            body.writeString("}")
            return .json(body: body)
        case .notFound: throw APIFailure.notFound
        case .notReady: throw APIFailure.notReady
        case .damaged(let problem):
            FileHandle.standardError.write(Data("spike nexus: the key table is damaged: \(problem); `spike log verify --password` lists every such version\n".utf8))
            throw APIFailure.internalError
        }
    }

    func changeVersions(_ route: APIRoute, _ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decode(SecretVersionsRequest.self, for: route)
        // Delete and undelete reverse each other: `write` may do both. Destroy cannot be undone
        // (the versions' keys are shredded): it wants `super` on the path.
        try authorize(route, path: body.path, wants: route == .secretDestroy ? [.super] : [.write], request)
        guard Validation.isValidSecretPath(body.path) else { throw APIFailure.badRequest }
        let versions = body.versions ?? []
        let command: DataCommand = switch route {
        case .secretDelete: .deleteSecret(path: body.path, versions: versions)
        case .secretUndelete: .undeleteSecret(path: body.path, versions: versions)
        default: .destroySecret(path: body.path, versions: versions)
        }
        return try Self.response(await store.write(command, actor: request.peer.description, trail: request.trail))
    }

    func listSecrets(_ request: HTTPRequest) async throws -> HTTPResponse {
        _ = try request.decode(EmptyRequest.self, for: .secretList)
        try authorize(.secretList, path: ReservedPaths.secretList, wants: [.list], request)
        return .json(SecretListResponse(keys: store.secretPaths()))
    }

    func secretMetadata(_ request: HTTPRequest) async throws -> HTTPResponse {
        let body = try request.decode(SecretReadRequest.self, for: .secretMetadata)
        try authorize(.secretMetadata, path: body.path, wants: [.read], request)
        guard Validation.isValidSecretPath(body.path) else { throw APIFailure.badRequest }
        guard let entry = store.metadata(body.path, version: body.version ?? 0) else { throw APIFailure.notFound }
        return .json(SecretMetadataResponse(entry))
    }
}
