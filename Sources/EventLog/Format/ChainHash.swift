import Crypto

/// A SHA-256 value in the hash chain: each record's header holds the `ChainHash` of the whole
/// previous record, and `meta` holds the one of the last record (the chain head).
public struct ChainHash: Hashable, Sendable, CustomStringConvertible {
    public static let size = 32
    // Four words rather than an array: no allocation, cheap comparison on the replay path.
    private var w0, w1, w2, w3: UInt64

    init(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= Self.size)
        w0 = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        w1 = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        w2 = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        w3 = bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
    }

    /// All zero: what a header holds in `previousHash` while its body is sealed (see RecordCrypto).
    static let zero = ChainHash(words: (0, 0, 0, 0))

    private init(words: (UInt64, UInt64, UInt64, UInt64)) {
        (w0, w1, w2, w3) = words
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

    var bytes: [UInt8] {
        withUnsafeBytes(of: (w0, w1, w2, w3)) { Array($0) }
    }

    func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        withUnsafeBytes(of: (w0, w1, w2, w3)) { source in
            UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + Self.size)]).copyMemory(from: source)
        }
    }

    public var description: String { bytes.hexString }
}

extension Sequence<UInt8> {
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
