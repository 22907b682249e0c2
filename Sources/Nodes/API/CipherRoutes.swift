import Crypto
import EventLog
import Foundation
import NIOHTTP1
import NexusCore
import NIOCore
import Projections
import SpikeAPI

/// Encryption as a service (reference §8) over HTTP: SPIKE's JSON mode and its stream mode
/// (`Content-Type: application/octet-stream`), its size limit on plaintext and ciphertext; the
/// formats and the crypto are `SpikeCipher`'s, under HKDF(R, "cipher", epoch).
extension DataAPI {
    private func isStream(_ request: HTTPRequest) -> Bool {
        request.headers.first(name: "Content-Type") == "application/octet-stream"
    }

    func encrypt(_ request: HTTPRequest) throws -> HTTPResponse {
        let stream = isStream(request)
        let plaintext: Data = if stream {
            Data(request.body.readableBytesView)
        } else {
            try request.decode(CipherEncryptRequest.self, for: .encrypt).plaintext
        }
        try authorize(.encrypt, path: ReservedPaths.cipher, wants: .execute, request)
        guard plaintext.count <= maxCipherSize else { throw APIFailure.badRequest }
        guard let key = store.cipherKey else { throw APIFailure.notReady }
        let (nonce, ciphertext) = try SpikeCipher.seal(plaintext, key: key)
        if stream { return .bytes(SpikeCipher.streamFrame(nonce: nonce, ciphertext: ciphertext), contentType: "application/octet-stream") }
        return .json(CipherEncryptResponse(version: SpikeCipher.version, nonce: nonce, ciphertext: ciphertext))
    }

    func decrypt(_ request: HTTPRequest) throws -> HTTPResponse {
        if isStream(request) { return try decryptStream(request) }
        let body = try request.decode(CipherDecryptRequest.self, for: .decrypt)
        try authorize(.decrypt, path: ReservedPaths.cipher, wants: .execute, request)
        guard body.version == Int(SpikeCipher.version), body.nonce.count == SpikeCipher.nonceSize, body.ciphertext.count <= maxCipherSize else {
            throw APIFailure.badRequest
        }
        guard let keys = store.decryptionKeys else { throw APIFailure.notReady }
        // A ciphertext that does not authenticate is the caller's input, not the server's fault:
        // 400, as the stream mode answers (SPIKE answers 500; docs/adr/0014).
        guard let plaintext = keys.lazy.compactMap({ SpikeCipher.open(nonce: body.nonce, ciphertext: body.ciphertext, key: $0) }).first else {
            throw APIFailure.badRequest
        }
        return .json(CipherDecryptResponse(plaintext: plaintext))
    }

    private func decryptStream(_ request: HTTPRequest) throws -> HTTPResponse {
        let bytes = request.body
        try authorize(.decrypt, path: ReservedPaths.cipher, wants: .execute, request)
        let nonce: Data, ciphertext: Data
        switch SpikeCipher.parseStream(Array(bytes.readableBytesView)) {
        case .success(let parsed): (nonce, ciphertext) = parsed
        case .failure(let error): return .text(error.rawValue, status: .badRequest)
        }
        guard ciphertext.count <= maxCipherSize else { throw APIFailure.badRequest }
        guard let keys = store.decryptionKeys else { throw APIFailure.notReady }
        guard let plaintext = keys.lazy.compactMap({ SpikeCipher.open(nonce: nonce, ciphertext: ciphertext, key: $0) }).first else {
            return .text("decryption failed", status: .badRequest)
        }
        return .bytes(plaintext, contentType: "application/octet-stream")
    }

    /// Bootstrap's proof that the Nexus holds the root key it was given (reference §2.4): decrypt
    /// with R itself (SPIKE's Bootstrap encrypts with it) and answer the SHA-256 of the
    /// plaintext. The Bootstrap role only.
    func verifyBootstrap(_ request: HTTPRequest) throws -> HTTPResponse {
        let body = try request.decode(BootstrapVerifyRequest.self, for: .bootstrapVerify)
        guard roles.has(request.peer, .bootstrap) else {
            throw APIFailure.denied(.bootstrapVerify, path: APIRoute.bootstrapVerify.path, wants: [])
        }
        guard body.nonce.count == SpikeCipher.nonceSize, body.ciphertext.count <= maxCipherSize else { throw APIFailure.badRequest }
        guard let key = store.rootCipherKey else { throw APIFailure.notReady }
        guard let plaintext = SpikeCipher.open(nonce: body.nonce, ciphertext: body.ciphertext, key: key) else { throw APIFailure.badRequest }
        return .json(BootstrapVerifyResponse(hash: SHA256.hash(data: plaintext).hexString))
    }
}
