import CLibCrypto
import Foundation

/// AES-256-GCM boxes laid out as swift-crypto's `AES.GCM.SealedBox.combined` is (nonce 12 ‖
/// ciphertext ‖ tag 16), sealed and opened through libcrypto. For the seals made on every secret
/// write and opened on every read (`VersionSeal`), where swift-crypto's per-call key context,
/// its `Data` and a `getrandom` system call per nonce and per key cost more than the cipher
/// (ADR-0021). Random bytes come from OpenSSL's DRBG (seeded and reseeded by the kernel), drawn
/// once per seal for its key and nonces: in OpenSSL 3.0 a draw costs as much as a system call.
enum AESGCMBox {
    static let keySize = 32
    static let nonceSize = 12
    static let tagSize = 16
    static let overhead = nonceSize + tagSize

    // Fetched once: an implicit fetch on every init is costly in OpenSSL 3.
    nonisolated(unsafe) static let cipher = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)!

    /// The key of a box: its 32 bytes, for a key that seals or opens one box (a context is made
    /// for it, and freed, so cleansed, after it), or a libcrypto context that holds a key's
    /// schedule already, for a key that seals and opens many (`DataKey`).
    enum Key {
        case bytes(UnsafeRawBufferPointer)
        case keyed(OpaquePointer)
    }

    /// Fills `buffer` from OpenSSL's CSPRNG.
    static func randomBytes(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        precondition(RAND_bytes(base.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) == 1, "RAND_bytes failed")
    }

    /// `plaintext` sealed under `key` with `nonce` (random, never used twice under one key),
    /// `aad` authenticated; nil only when libcrypto fails (out of memory).
    static func seal(_ plaintext: UnsafeRawBufferPointer, key: Key, nonce: UnsafeRawBufferPointer,
                     authenticating aad: some ContiguousBytes) -> [UInt8]? {
        precondition(nonce.count == nonceSize)
        var sealed = true
        let box = [UInt8](unsafeUninitializedCapacity: plaintext.count + overhead) { box, initialized in
            let base = box.baseAddress!
            UnsafeMutableRawBufferPointer(start: base, count: nonceSize).copyMemory(from: nonce)
            sealed = aad.withUnsafeBytes { aad in
                run(key, encrypt: true, nonce: base, aad: aad, input: plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    count: plaintext.count, output: base + nonceSize, tag: base + nonceSize + plaintext.count)
            }
            initialized = plaintext.count + overhead
        }
        return sealed ? box : nil
    }

    /// Opens `box` into `plaintext` (`box.count - overhead` bytes); false, with `plaintext`
    /// wiped, when the box is too short or does not authenticate under `key` and `aad`.
    static func open(_ box: UnsafeRawBufferPointer, key: Key, authenticating aad: some ContiguousBytes,
                     into plaintext: UnsafeMutableRawBufferPointer) -> Bool {
        guard box.count >= overhead, plaintext.count == box.count - overhead, let base = box.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return false
        }
        // The tag is an input of an open; libcrypto's parameter takes a mutable pointer.
        var tag = (UInt64(0), UInt64(0))
        let opened = withUnsafeMutableBytes(of: &tag) { tag in
            tag.copyMemory(from: UnsafeRawBufferPointer(rebasing: box[(box.count - tagSize)...]))
            return aad.withUnsafeBytes { aad in
                run(key, encrypt: false, nonce: base, aad: aad, input: base + nonceSize, count: plaintext.count,
                    output: plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), tag: tag.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        if !opened, plaintext.count > 0 { OPENSSL_cleanse(plaintext.baseAddress, plaintext.count) }
        return opened
    }

    private static func run(_ key: Key, encrypt: Bool, nonce: UnsafePointer<UInt8>, aad: UnsafeRawBufferPointer,
                            input: UnsafePointer<UInt8>?, count: Int, output: UnsafeMutablePointer<UInt8>?, tag: UnsafeMutablePointer<UInt8>) -> Bool {
        switch key {
        case .bytes(let key):
            precondition(key.count == keySize)
            return spike_aes256gcm(cipher, encrypt ? 1 : 0, key.baseAddress!.assumingMemoryBound(to: UInt8.self), nonce, aad.baseAddress?.assumingMemoryBound(to: UInt8.self), aad.count,
                                   input, count, output, tag) == 1
        case .keyed(let context):
            return spike_aes256gcm_keyed(context, encrypt ? 1 : 0, nonce, aad.baseAddress?.assumingMemoryBound(to: UInt8.self), aad.count, input, count, output, tag) == 1
        }
    }
}
