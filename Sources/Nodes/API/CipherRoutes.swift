import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// Encryption as a service (reference §8): AES-256-GCM under HKDF(R, "cipher", epoch), SPIKE's
/// JSON mode and its stream mode (`Content-Type: application/octet-stream`, bytes
/// `0x01 ‖ nonce(12) ‖ ciphertext ‖ tag`), and its size limit on plaintext and ciphertext.
extension DataAPI {
    static let cipherVersion: UInt8 = 1
    static let nonceSize = 12

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
        let sealed: AES.GCM.SealedBox
        do {
            sealed = try AES.GCM.seal(plaintext, using: key)
        } catch {
            return .error(.internalError, status: .internalServerError)
        }
        let nonce = Data(sealed.nonce)
        let ciphertext = sealed.ciphertext + sealed.tag
        if stream {
            var body = ByteBuffer()
            body.writeInteger(Self.cipherVersion)
            body.writeBytes(nonce)
            body.writeBytes(ciphertext)
            return HTTPResponse(status: .ok, headers: ["Content-Type": "application/octet-stream", "Cache-Control": "no-store"], body: body)
        }
        return .json(CipherEncryptResponse(version: Self.cipherVersion, nonce: nonce, ciphertext: ciphertext))
    }

    func decrypt(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        if isStream(request) { return await decryptStream(request, trail: trail) }
        guard let body = request.decodeJSON(CipherDecryptRequest.self) else { return Self.badRequest }
        guard await authorize(request, .decrypt, path: ReservedPaths.cipher, wants: [.execute], trail: trail) else { return Self.unauthorized }
        guard body.version == Int(Self.cipherVersion), body.nonce.count == Self.nonceSize, body.ciphertext.count <= maxCipherSize else {
            return Self.badRequest
        }
        guard let key = store.cipherKey else { return Self.notReady }
        guard let plaintext = open(nonce: body.nonce, ciphertext: body.ciphertext, key: key) else {
            return .error(.internalError, status: .internalServerError)
        }
        return .json(CipherDecryptResponse(plaintext: plaintext))
    }

    private func decryptStream(_ request: HTTPRequest, trail: String) async -> HTTPResponse {
        guard await authorize(request, .decrypt, path: ReservedPaths.cipher, wants: [.execute], trail: trail) else { return Self.unauthorized }
        let bytes = Array(request.body.readableBytesView)
        guard let version = bytes.first else { return .text("crypto_failed_to_read_version", status: .badRequest) }
        guard version == Self.cipherVersion else { return .text("crypto_unsupported_version", status: .badRequest) }
        guard bytes.count >= 1 + Self.nonceSize else { return .text("crypto_failed_to_read_nonce", status: .badRequest) }
        let ciphertext = Data(bytes[(1 + Self.nonceSize)...])
        guard ciphertext.count <= maxCipherSize else { return Self.badRequest }
        guard let key = store.cipherKey else { return Self.notReady }
        guard let plaintext = open(nonce: Data(bytes[1..<(1 + Self.nonceSize)]), ciphertext: ciphertext, key: key) else {
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
        guard body.nonce.count == Self.nonceSize, body.ciphertext.count <= maxCipherSize else { return Self.badRequest }
        guard let key = store.rootCipherKey else { return Self.notReady }
        guard let plaintext = open(nonce: body.nonce, ciphertext: body.ciphertext, key: key) else {
            return .error(.internalError, status: .internalServerError)
        }
        return .json(BootstrapVerifyResponse(hash: SHA256.hash(data: plaintext).map { String(format: "%02x", $0) }.joined()))
    }

    private func open(nonce: Data, ciphertext: Data, key: SymmetricKey) -> Data? {
        guard ciphertext.count >= 16 else { return nil }
        let tagStart = ciphertext.index(ciphertext.endIndex, offsetBy: -16)
        guard let box = try? AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext[..<tagStart], tag: ciphertext[tagStart...])
        else { return nil }
        return try? AES.GCM.open(box, using: key)
    }
}
