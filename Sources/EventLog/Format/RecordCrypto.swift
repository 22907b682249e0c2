import CLibCrypto
import Crypto

/// AES-256-GCM for records through a reusable OpenSSL EVP context, and SHA-256: the key schedule
/// is set once per segment and nothing is allocated per record, which is what lets appends and
/// replays run near the hardware's speed (docs/adr/0002). One instance per thread; not shared.
///
/// Event body = nonce (12) ‖ ciphertext ‖ tag (16); the additional data is the record's 68-byte
/// header with its `previousHash` zeroed, so a header cannot be changed without the body failing
/// to open. The chain link is left out so that bodies can be sealed on all cores before the
/// chain is known; the chain itself protects it (docs/log-format.md).
final class RecordCrypto {
    static let nonceSize = 12
    static let tagSize = 16
    static let overhead = nonceSize + tagSize

    // Fetched once: implicit fetching on every init is costly in OpenSSL 3.
    nonisolated(unsafe) private static let aes256GCM = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)!

    private let cipher: OpaquePointer
    private var keyedSegment: UInt64?
    private var keyedForEncryption = false

    init() {
        cipher = EVP_CIPHER_CTX_new()!
    }

    deinit {
        // The free call cleanses the key schedule.
        EVP_CIPHER_CTX_free(cipher)
    }

    /// Loads `key` unless the segment's key is loaded already.
    func useKey(_ key: SymmetricKey, segment: UInt64, encrypt: Bool) {
        if keyedSegment == segment && keyedForEncryption == encrypt { return }
        key.withUnsafeBytes { bytes in
            let ok = EVP_CipherInit_ex2(cipher, Self.aes256GCM, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), nil, encrypt ? 1 : 0, nil)
            precondition(ok == 1, "EVP_CipherInit_ex2 failed")
        }
        keyedSegment = segment
        keyedForEncryption = encrypt
    }

    /// Encrypts `plaintext` into `body` (nonce ‖ ciphertext ‖ tag) with `header` as additional
    /// data. `body.count` must be `plaintext.count + overhead`.
    func seal(plaintext: UnsafeRawBufferPointer, header: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
              into body: UnsafeMutableRawBufferPointer) {
        precondition(keyedForEncryption && body.count == plaintext.count + Self.overhead && nonce.count == Self.nonceSize)
        let out = body.baseAddress!.assumingMemoryBound(to: UInt8.self)
        UnsafeMutableRawBufferPointer(start: out, count: Self.nonceSize).copyMemory(from: nonce)
        let ok = spike_aes256gcm_keyed(cipher, 1, out, header.baseAddress?.assumingMemoryBound(to: UInt8.self), header.count,
                                       plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), plaintext.count,
                                       out + Self.nonceSize, out + Self.nonceSize + plaintext.count)
        precondition(ok == 1, "AES-GCM seal failed")
    }

    /// The plaintext size of an event record's body, or nil when the body cannot hold nonce and tag.
    static func plaintextCount(ofRecord record: UnsafeRawBufferPointer) -> Int? {
        let count = record.count - RecordHeader.size - overhead
        return count >= 0 ? count : nil
    }

    /// Opens the body of an event record (header included in `record`) into `plaintext`, which
    /// must be `plaintextCount(ofRecord:)` bytes. On failure `plaintext` is wiped.
    func open(record: UnsafeRawBufferPointer, sequence: UInt64, into plaintext: UnsafeMutableRawBufferPointer) throws(LogError) {
        precondition(!keyedForEncryption && keyedSegment != nil)
        guard let count = Self.plaintextCount(ofRecord: record), count == plaintext.count else {
            throw .corruptRecord(sequence: sequence, reason: "event body shorter than nonce and tag")
        }
        let base = record.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let nonce = base + RecordHeader.size
        let ciphertext = nonce + Self.nonceSize
        let tag = UnsafeMutablePointer(mutating: ciphertext + count)
        let ok = withUnsafeTemporaryAllocation(byteCount: RecordHeader.size, alignment: 8) { aad in
            aad.copyMemory(from: UnsafeRawBufferPointer(rebasing: record[..<RecordHeader.size]))
            ChainHash.zero.write(to: aad, at: RecordHeader.previousHashOffset)
            return spike_aes256gcm_keyed(cipher, 0, nonce, aad.baseAddress!.assumingMemoryBound(to: UInt8.self), RecordHeader.size,
                                         ciphertext, count, plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), tag)
        }
        guard ok == 1 else {
            // Never leave unauthenticated plaintext behind.
            if count > 0 { OPENSSL_cleanse(plaintext.baseAddress, count) }
            throw .bodyAuthenticationFailed(sequence: sequence)
        }
    }

    /// The record's content hash: SHA-256 of the whole record with its `previousHash` taken as
    /// zero. It does not depend on the chain, so it can be computed on any core.
    func contentHash(_ record: UnsafeRawBufferPointer) -> ChainHash {
        // The first 64 bytes with the link zeroed, then the rest.
        withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { prefix in
            prefix.copyMemory(from: UnsafeRawBufferPointer(rebasing: record[..<64]))
            ChainHash.zero.write(to: prefix, at: RecordHeader.previousHashOffset)
            return Self.sha256(UnsafeRawBufferPointer(prefix), UnsafeRawBufferPointer(rebasing: record[64...]))
        }
    }

    /// The chain link of a record: SHA-256(link of the record before ‖ content hash).
    func link(_ previous: ChainHash, _ content: ChainHash) -> ChainHash {
        withUnsafeBytes(of: previous) { previous in
            withUnsafeBytes(of: content) { Self.sha256(previous, $0) }
        }
    }

    /// SHA-256 through the low-level functions (see CLibCrypto's shim): nothing to set up, no
    /// provider dispatch per call.
    private static func sha256(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> ChainHash {
        var out = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        let ok = withUnsafeMutableBytes(of: &out) { result in
            spike_sha256_two_parts(first.baseAddress, first.count, second.baseAddress, second.count,
                                   result.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        precondition(ok == 1, "SHA-256 failed")
        return withUnsafeBytes(of: out) { ChainHash($0) }
    }
}
