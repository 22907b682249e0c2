import NIOCore
import NIOHTTP1
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// The secret routes (reference §2.3–2.4, §4.1).
extension DataAPI {
    func putSecret(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        guard let body = request.decodeJSON(SecretPutRequest.self) else { return Self.badRequest }
        guard await authorize(request, .secretPut, path: body.path, wants: [.write], trail: trail) else { return Self.unauthorized }
        let values = body.values ?? [:]
        guard Validation.isValidSecretPath(body.path), values.keys.allSatisfy(Validation.isValidName) else { return Self.badRequest }
        if let cas = body.cas, cas < 0 { return Self.badRequest }
        let sealed: VersionSeal.Sealed?
        do { sealed = try store.seal(values, path: body.path) } catch { return Self.response(.failed("\(error)")) }
        guard let sealed else { return Self.notReady }
        return Self.response(await store.write(.putSecret(path: body.path, sealed: sealed, cas: body.cas),
                                               actor: request.peer.description, trail: trail))
    }

    func getSecret(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        guard let body = request.decodeJSON(SecretReadRequest.self) else { return .json(SecretGetResponse(data: nil, err: "api_bad_request"), status: .badRequest) }
        guard await authorize(request, .secretGet, path: body.path, wants: [.read], trail: trail) else {
            return .json(SecretGetResponse(data: nil, err: "access_unauthorized"), status: .unauthorized)
        }
        guard Validation.isValidSecretPath(body.path) else { return .json(SecretGetResponse(data: nil, err: "api_bad_request"), status: .badRequest) }
        switch store.secretJSON(body.path, version: body.version ?? 0) {
        case .json(let values):
            // `{"data":` + the sealed JSON object + `}`: the value is never decoded here.
            var body = ByteBuffer()
            body.reserveCapacity(values.count + 9)
            body.writeString(#"{"data":"#)
            body.writeBytes(values)
            body.writeString("}")
            return .json(body: body)
        case .notFound: return .json(SecretGetResponse(data: nil, err: APIErrorCode.notFound.rawValue), status: .notFound)
        case .notReady: return Self.notReady
        }
    }

    func changeVersions(_ route: APIRoute, _ request: HTTPRequest, trail: String) async -> HTTPResponse {
        guard let body = request.decodeJSON(SecretVersionsRequest.self) else { return Self.badRequest }
        guard await authorize(request, route, path: body.path, wants: [.write], trail: trail) else { return Self.unauthorized }
        guard Validation.isValidSecretPath(body.path) else { return Self.badRequest }
        let versions = body.versions ?? []
        let command: DataCommand = switch route {
        case .secretDelete: .deleteSecret(path: body.path, versions: versions)
        case .secretUndelete: .undeleteSecret(path: body.path, versions: versions)
        default: .destroySecret(path: body.path, versions: versions)
        }
        return Self.response(await store.write(command, actor: request.peer.description, trail: trail))
    }

    func listSecrets(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        guard request.decodeJSON(EmptyRequest.self) != nil else { return Self.badRequest }
        guard await authorize(request, .secretList, path: ReservedPaths.secretList, wants: [.list], trail: trail) else { return Self.unauthorized }
        return .json(SecretListResponse(keys: store.secretPaths()))
    }

    func secretMetadata(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        guard let body = request.decodeJSON(SecretReadRequest.self) else { return Self.badRequest }
        guard await authorize(request, .secretMetadata, path: body.path, wants: [.read], trail: trail) else { return Self.unauthorized }
        guard Validation.isValidSecretPath(body.path) else { return Self.badRequest }
        guard let entry = store.metadata(body.path, version: body.version ?? 0) else { return Self.notFound }
        return .json(SecretMetadataResponse(entry))
    }
}
