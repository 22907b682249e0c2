import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// Encryption as a service (reference §8) over HTTP: SPIKE's JSON mode and its stream mode
/// (`Content-Type: application/octet-stream`), its size limit on plaintext and ciphertext; the
/// formats and the crypto are `SpikeCipher`'s, under HKDF(R, "cipher", epoch).
extension DataAPI {
    private func isStream(_ request: HTTPRequest) -> Bool {
        request.headers.first(name: "Content-Type") == "application/octet-stream"
    }

    func encrypt(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        let stream = isStream(request)
        let plaintext: Data
        if stream {
            plaintext = Data(request.body.readableBytesView)
        } else {
            guard let body = request.decodeJSON(CipherEncryptRequest.self) else { return Self.badRequest }
            plaintext = body.plaintext
        }
        guard await authorize(request, .encrypt, path: ReservedPaths.cipher, wants: [.execute], trail: trail) else { return Self.unauthorized }
        guard plaintext.count <= maxCipherSize else { return Self.badRequest }
        guard let key = store.cipherKey else { return Self.notReady }
        let nonce: Data, ciphertext: Data
        do {
            (nonce, ciphertext) = try SpikeCipher.seal(plaintext, key: key)
        } catch {
            return .error(.internalError, status: .internalServerError)
        }
        if stream {
            return HTTPResponse(status: .ok, headers: ["Content-Type": "application/octet-stream", "Cache-Control": "no-store"],
                                body: ByteBuffer(bytes: SpikeCipher.streamFrame(nonce: nonce, ciphertext: ciphertext)))
        }
        return .json(CipherEncryptResponse(version: SpikeCipher.version, nonce: nonce, ciphertext: ciphertext))
    }

    func decrypt(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        if isStream(request) { return await decryptStream(request, trail: trail) }
        guard let body = request.decodeJSON(CipherDecryptRequest.self) else { return Self.badRequest }
        guard await authorize(request, .decrypt, path: ReservedPaths.cipher, wants: [.execute], trail: trail) else { return Self.unauthorized }
        guard body.version == Int(SpikeCipher.version), body.nonce.count == SpikeCipher.nonceSize, body.ciphertext.count <= maxCipherSize else {
            return Self.badRequest
        }
        guard let key = store.cipherKey else { return Self.notReady }
        guard let plaintext = SpikeCipher.open(nonce: body.nonce, ciphertext: body.ciphertext, key: key) else {
            return .error(.internalError, status: .internalServerError)
        }
        return .json(CipherDecryptResponse(plaintext: plaintext))
    }

    private func decryptStream(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        guard await authorize(request, .decrypt, path: ReservedPaths.cipher, wants: [.execute], trail: trail) else { return Self.unauthorized }
        let nonce: Data, ciphertext: Data
        switch SpikeCipher.parseStream(Array(request.body.readableBytesView)) {
        case .success(let parsed): (nonce, ciphertext) = parsed
        case .failure(let error): return .text(error.rawValue, status: .badRequest)
        }
        guard ciphertext.count <= maxCipherSize else { return Self.badRequest }
        guard let key = store.cipherKey else { return Self.notReady }
        guard let plaintext = SpikeCipher.open(nonce: nonce, ciphertext: ciphertext, key: key) else {
            return .text("decryption failed", status: .badRequest)
        }
        return HTTPResponse(status: .ok, headers: ["Content-Type": "application/octet-stream", "Cache-Control": "no-store"],
                            body: ByteBuffer(bytes: plaintext))
    }

    /// Bootstrap's proof that the Nexus holds the root key it was given (reference §2.4): decrypt
    /// with R itself (SPIKE's Bootstrap encrypts with it) and answer the SHA-256 of the
    /// plaintext. The Bootstrap role only.
    func verifyBootstrap(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        guard let body = request.decodeJSON(BootstrapVerifyRequest.self) else { return Self.badRequest }
        guard roles.has(request.peer, .bootstrap) else {
            _ = await store.write(.denyAccess(operation: APIRoute.bootstrapVerify.operation, path: APIRoute.bootstrapVerify.path, wants: []),
                                  actor: request.peer.description, trail: trail)
            return Self.unauthorized
        }
        guard body.nonce.count == SpikeCipher.nonceSize, body.ciphertext.count <= maxCipherSize else { return Self.badRequest }
        guard let key = store.rootCipherKey else { return Self.notReady }
        guard let plaintext = SpikeCipher.open(nonce: body.nonce, ciphertext: body.ciphertext, key: key) else {
            return .error(.internalError, status: .internalServerError)
        }
        return .json(BootstrapVerifyResponse(hash: SHA256.hash(data: plaintext).map { String(format: "%02x", $0) }.joined()))
    }
}
