import Crypto

/// A SHA-256 value in the hash chain: each record's header holds the `ChainHash` of the whole
/// previous record, and `meta` holds the one of the last record (the chain head).
public struct ChainHash: Hashable, Sendable, CustomStringConvertible {
    public static let size = 32
    // Four words rather than an array: no allocation, cheap comparison on the replay path.
    private var value: Bytes32

    init(_ bytes: UnsafeRawBufferPointer) {
        value = Bytes32(bytes)
    }

    /// All zero: what a header holds in `previousHash` while its body is sealed (see RecordCrypto).
    static let zero = ChainHash(value: .zero)

    private init(value: Bytes32) {
        self.value = value
    }

    init(_ digest: SHA256Digest) {
        self = digest.withUnsafeBytes { ChainHash($0) }
    }

    /// What the first record's `previousHash` holds: SHA-256("spike-log v1 genesis" ‖ log id).
    /// Binding the chain to the log id keeps records of one log from being spliced into another.
    static func genesis(of logID: LogID) -> ChainHash {
        var hasher = SHA256()
        hasher.update(data: Array("spike-log v1 genesis".utf8))
        hasher.update(data: logID.bytes)
        return ChainHash(hasher.finalize())
    }

    /// A link as 32 bytes (a witnessed head's, say); nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.size else { return nil }
        self = bytes.withUnsafeBytes { ChainHash($0) }
    }

    public var bytes: [UInt8] { value.bytes }

    func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        value.write(to: buffer, at: offset)
    }

    public var description: String { bytes.hexString }
}
