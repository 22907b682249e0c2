import CLibCrypto

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
    nonisolated(unsafe) private static let cipher = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)!

    /// Fills `buffer` from OpenSSL's CSPRNG.
    static func randomBytes(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        precondition(RAND_bytes(base.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) == 1, "RAND_bytes failed")
    }

    /// `plaintext` sealed under `key` with `nonce` (random, never used twice under one key),
    /// `aad` authenticated; nil only when libcrypto fails (out of memory).
    static func seal(_ plaintext: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                     authenticating aad: [UInt8]) -> [UInt8]? {
        precondition(key.count == keySize && nonce.count == nonceSize)
        var sealed = true
        let box = [UInt8](unsafeUninitializedCapacity: plaintext.count + overhead) { box, initialized in
            let base = box.baseAddress!
            UnsafeMutableRawBufferPointer(start: base, count: nonceSize).copyMemory(from: nonce)
            sealed = aad.withUnsafeBufferPointer { aad in
                spike_aes256gcm(cipher, 1, key.baseAddress!.assumingMemoryBound(to: UInt8.self), base, aad.baseAddress, aad.count,
                                plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), plaintext.count,
                                base + nonceSize, base + nonceSize + plaintext.count) == 1
            }
            initialized = plaintext.count + overhead
        }
        return sealed ? box : nil
    }

    /// Opens `box` into `plaintext` (`box.count - overhead` bytes); false, with `plaintext`
    /// wiped, when the box is too short or does not authenticate under `key` and `aad`.
    static func open(_ box: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, authenticating aad: [UInt8],
                     into plaintext: UnsafeMutableRawBufferPointer) -> Bool {
        precondition(key.count == keySize)
        guard box.count >= overhead, plaintext.count == box.count - overhead, let base = box.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return false
        }
        // The tag is an input of an open; libcrypto's parameter takes a mutable pointer.
        var tag = (UInt64(0), UInt64(0))
        let opened = withUnsafeMutableBytes(of: &tag) { tag in
            tag.copyMemory(from: UnsafeRawBufferPointer(rebasing: box[(box.count - tagSize)...]))
            return aad.withUnsafeBufferPointer { aad in
                spike_aes256gcm(cipher, 0, key.baseAddress!.assumingMemoryBound(to: UInt8.self), base, aad.baseAddress, aad.count,
                                base + nonceSize, plaintext.count, plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                tag.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 1
            }
        }
        if !opened, plaintext.count > 0 { OPENSSL_cleanse(plaintext.baseAddress, plaintext.count) }
        return opened
    }
}
