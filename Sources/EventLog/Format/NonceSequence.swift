/// Nonces for one segment key: a random 4-byte prefix and a counter that only ever increases in
/// this process. The key is fresh for every segment, so a nonce never repeats under a key. A class
/// so that a transaction retried after the map grew goes on counting instead of starting over.
final class NonceSequence {
    private var nonce = [UInt8](repeating: 0, count: RecordCrypto.nonceSize)
    private var counter: UInt64 = 0

    init() {
        nonce.withUnsafeMutableBytes { $0.storeBytes(of: UInt32.random(in: 0...UInt32.max), as: UInt32.self) }
    }

    /// Calls `body` with the next 12-byte nonce.
    func next<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        counter += 1
        nonce.withUnsafeMutableBytes { $0.storeBytes(of: counter.bigEndian, toByteOffset: 4, as: UInt64.self) }
        return try nonce.withUnsafeBytes(body)
    }
}
