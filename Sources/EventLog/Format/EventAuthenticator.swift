import Crypto

/// The authenticator an authenticated event record (type 3) carries after its body, inside the
/// encryption: it proves the record was written by a holder of the authentication key the domain
/// chose (the Nexus derives one from its root key), not merely by someone who can seal bodies to
/// the log's recipients, which any holder of a recipient's public key can.
///
///     digest = SHA-256("spike event auth v1" ‖ header with previousHash zeroed ‖ body)
///     tag    = HMAC-SHA256(key, digest)
///
/// The header binds the tag to the record's sequence, time, epoch and kind: an authentic record
/// copied to another position of the log fails. A reader computes `digest` without any key, so
/// a holder of the key can check a whole log's tags later without reading it again.
public struct EventAuthenticator: Sendable, Equatable {
    public static let size = 32
    static let label = Array("spike event auth v1".utf8)

    // 64 bytes inline, no allocation: the Nexus keeps one per data event until it has R.
    public let digest: Bytes32
    public let tag: Bytes32

    public init(digest: Bytes32, tag: Bytes32) {
        self.digest = digest
        self.tag = tag
    }

    /// Whether `tag` is this record's under `key` (constant-time comparison).
    public func isValid(under key: SymmetricKey) -> Bool {
        EventAuthenticatorCheck(key: key).isValid(self)
    }

    /// What the tag of a record with `header` (its previousHash zeroed) and `body` covers.
    static func digest(header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> Bytes32 {
        var hasher = SHA256()
        hasher.update(data: label)
        hasher.update(bufferPointer: header)
        hasher.update(bufferPointer: body)
        return hasher.finalize().withUnsafeBytes { Bytes32($0) }
    }

    /// The digest of a record with `header` (its previousHash taken as zero) and `body`.
    static func digest(of header: RecordHeader, body: UnsafeRawBufferPointer) -> Bytes32 {
        withUnsafeTemporaryAllocation(byteCount: RecordHeader.size, alignment: 8) { bytes in
            var unlinked = header
            unlinked.previousHash = .zero
            unlinked.encode(into: bytes)
            return digest(header: UnsafeRawBufferPointer(bytes), body: body)
        }
    }

    static func tag(digest: Bytes32, key: SymmetricKey) -> [UInt8] {
        // A MAC failure is OpenSSL failing on a fixed-size input: nothing a record could cause.
        guard let tag = EventAuthenticatorCheck(key: key).tag(for: digest) else { preconditionFailure("HMAC-SHA256 failed") }
        return tag.bytes
    }
}
