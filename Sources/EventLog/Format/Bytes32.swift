/// 32 bytes held in four words: a digest or a tag, compared and copied without allocating.
public struct Bytes32: Hashable, Sendable {
    private var w0, w1, w2, w3: UInt64

    public init(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count >= 32)
        w0 = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)
        w1 = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        w2 = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        w3 = bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
    }

    public static let zero = Bytes32(words: (0, 0, 0, 0))

    private init(words: (UInt64, UInt64, UInt64, UInt64)) {
        (w0, w1, w2, w3) = words
    }

    public var bytes: [UInt8] { withUnsafeBytes(of: (w0, w1, w2, w3)) { Array($0) } }

    func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        withUnsafeBytes(of: (w0, w1, w2, w3)) { source in
            UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + 32)]).copyMemory(from: source)
        }
    }
}
