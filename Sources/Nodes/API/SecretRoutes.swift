import Hummingbird
import NexusCore
import NIOCore
import Projections
import SPIFFE
import SpikeAPI

/// The secret routes (reference §2.3–2.4, §4.1).
extension DataAPI {
    func putSecret(_ request: Request, _ context: SPIFFERequestContext) async throws -> Response {
        let body = try await request.decode(SecretPutRequest.self, for: .secretPut, context: context)
        try authorize(.secretPut, path: body.path, wants: [.write], context)
        let values = body.values ?? [:]
        guard Validation.isValidSecretPath(body.path), values.keys.allSatisfy(Validation.isValidName) else { throw APIFailure.badRequest }
        if let cas = body.cas, cas < 0 { throw APIFailure.badRequest }
        guard let sealed = try store.seal(values, path: body.path) else { throw APIFailure.notReady }
        return try Self.response(await store.write(.putSecret(path: body.path, sealed: sealed, cas: body.cas),
                                                   actor: context.peer.description, trail: context.trail))
    }

    func getSecret(_ request: Request, _ context: SPIFFERequestContext) async throws -> Response {
        let body = try await request.decode(SecretReadRequest.self, for: .secretGet, context: context)
        try authorize(.secretGet, path: body.path, wants: [.read], context)
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
        }
    }

    func changeVersions(_ route: APIRoute, _ request: Request, _ context: SPIFFERequestContext) async throws -> Response {
        let body = try await request.decode(SecretVersionsRequest.self, for: route, context: context)
        try authorize(route, path: body.path, wants: [.write], context)
        guard Validation.isValidSecretPath(body.path) else { throw APIFailure.badRequest }
        let versions = body.versions ?? []
        let command: DataCommand = switch route {
        case .secretDelete: .deleteSecret(path: body.path, versions: versions)
        case .secretUndelete: .undeleteSecret(path: body.path, versions: versions)
        default: .destroySecret(path: body.path, versions: versions)
        }
        return try Self.response(await store.write(command, actor: context.peer.description, trail: context.trail))
    }

    func listSecrets(_ request: Request, _ context: SPIFFERequestContext) async throws -> Response {
        _ = try await request.decode(EmptyRequest.self, for: .secretList, context: context)
        try authorize(.secretList, path: ReservedPaths.secretList, wants: [.list], context)
        return .json(SecretListResponse(keys: store.secretPaths()))
    }

    func secretMetadata(_ request: Request, _ context: SPIFFERequestContext) async throws -> Response {
        let body = try await request.decode(SecretReadRequest.self, for: .secretMetadata, context: context)
        try authorize(.secretMetadata, path: body.path, wants: [.read], context)
        guard Validation.isValidSecretPath(body.path) else { throw APIFailure.badRequest }
        guard let entry = store.metadata(body.path, version: body.version ?? 0) else { throw APIFailure.notFound }
        return .json(SecretMetadataResponse(entry))
    }
}
