/// Nonces for one segment key: a random 4-byte prefix and a counter that only ever increases in
/// this process. The key is fresh for every segment, so a nonce never repeats under a key. A class
/// so that the counter survives a failed and retried batch instead of starting over.
final class NonceSequence: @unchecked Sendable {
    private let prefix = UInt32.random(in: 0...UInt32.max)
    private var counter: UInt64 = 0

    /// Reserves `count` consecutive counter values and returns the first. Writer thread only.
    func reserve(_ count: Int) -> UInt64 {
        defer { counter += UInt64(count) }
        return counter + 1
    }

    /// Calls `body` with the 12-byte nonce for a reserved counter value (any thread).
    func nonce<T>(_ value: UInt64, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        var bytes = (UInt32(0), UInt32(0), UInt32(0))
        return try withUnsafeMutableBytes(of: &bytes) { buffer in
            buffer.storeBytes(of: prefix.bigEndian, toByteOffset: 0, as: UInt32.self)
            buffer.storeBytes(of: value.bigEndian, toByteOffset: 4, as: UInt64.self)
            return try body(UnsafeRawBufferPointer(buffer))
        }
    }
}
