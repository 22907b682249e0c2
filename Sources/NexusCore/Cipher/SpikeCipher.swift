import Crypto
import Foundation

/// Encryption as a service in SPIKE's formats (reference §8): AES-256-GCM under the epoch's
/// cipher key, the JSON mode's nonce and ciphertext (tag appended), and the stream mode's bytes
/// `0x01 ‖ nonce(12) ‖ ciphertext ‖ tag`. Pure; the routes only move bytes.
public enum SpikeCipher {
    public static let version: UInt8 = 1
    public static let nonceSize = 12
    static let tagSize = 16

    /// A fresh nonce and the ciphertext with its tag.
    public static func seal(_ plaintext: Data, key: SymmetricKey) throws -> (nonce: Data, ciphertext: Data) {
        let sealed = try AES.GCM.seal(plaintext, using: key)
        // Zero-based Data: a slice of the sealed box would keep the box's indices.
        return (Data(sealed.nonce), Data(sealed.ciphertext) + sealed.tag)
    }

    /// The plaintext, or nil when the nonce is malformed or anything does not authenticate.
    public static func open(nonce: Data, ciphertext: Data, key: SymmetricKey) -> Data? {
        guard ciphertext.count >= tagSize else { return nil }
        let tagStart = ciphertext.index(ciphertext.endIndex, offsetBy: -tagSize)
        guard let box = try? AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext[..<tagStart], tag: ciphertext[tagStart...])
        else { return nil }
        return try? AES.GCM.open(box, using: key)
    }

    /// The stream mode's bytes for a sealed value.
    public static func streamFrame(nonce: Data, ciphertext: Data) -> [UInt8] {
        [version] + Array(nonce) + Array(ciphertext)
    }

    /// Why stream-mode bytes are refused, with SPIKE's texts.
    public enum StreamError: String, Error, Sendable {
        case noVersion = "crypto_failed_to_read_version"
        case unsupportedVersion = "crypto_unsupported_version"
        case noNonce = "crypto_failed_to_read_nonce"
    }

    /// The nonce and ciphertext of stream-mode bytes.
    public static func parseStream(_ bytes: [UInt8]) -> Result<(nonce: Data, ciphertext: Data), StreamError> {
        guard let first = bytes.first else { return .failure(.noVersion) }
        guard first == version else { return .failure(.unsupportedVersion) }
        guard bytes.count >= 1 + nonceSize else { return .failure(.noNonce) }
        return .success((Data(bytes[1..<(1 + nonceSize)]), Data(bytes[(1 + nonceSize)...])))
    }
}
