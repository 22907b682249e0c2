import Crypto

/// AES-256-GCM for event bodies. Body = nonce (12) ‖ ciphertext ‖ tag (16); the additional data is
/// the record's 68-byte header, so a header cannot be changed without the body failing to open.
enum RecordCipher {
    static let nonceSize = 12
    static let tagSize = 16
    static let overhead = nonceSize + tagSize

    /// Builds a whole event record: the header (with `bodyLength` filled in) and the sealed body.
    static func sealEvent(
        header: RecordHeader, plaintext: [UInt8], key: SymmetricKey, nonce: AES.GCM.Nonce
    ) throws -> [UInt8] {
        var header = header
        header.bodyLength = UInt32(plaintext.count + overhead)
        var headerBytes = [UInt8](repeating: 0, count: RecordHeader.size)
        headerBytes.withUnsafeMutableBytes { header.encode(into: $0) }
        let box = try AES.GCM.seal(plaintext, using: key, nonce: nonce, authenticating: headerBytes)
        var record = headerBytes
        record.reserveCapacity(RecordHeader.size + plaintext.count + overhead)
        record.append(contentsOf: nonce)
        record.append(contentsOf: box.ciphertext)
        record.append(contentsOf: box.tag)
        return record
    }

    /// Opens the body of an event record whose header has been decoded.
    static func open(record: UnsafeRawBufferPointer, sequence: UInt64, key: SymmetricKey) throws(LogError) -> [UInt8] {
        let bodyStart = RecordHeader.size
        guard record.count >= bodyStart + overhead else {
            throw .corruptRecord(sequence: sequence, reason: "event body shorter than nonce and tag")
        }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: record[bodyStart..<(bodyStart + nonceSize)]),
                ciphertext: record[(bodyStart + nonceSize)..<(record.count - tagSize)],
                tag: record[(record.count - tagSize)...])
            let header = UnsafeRawBufferPointer(rebasing: record[..<bodyStart])
            return Array(try AES.GCM.open(box, using: key, authenticating: header))
        } catch {
            throw .bodyAuthenticationFailed(sequence: sequence)
        }
    }
}

/// Nonces for one segment key: a random 4-byte prefix and a counter that only ever increases in
/// this process. The key is fresh for every segment, so a nonce never repeats under a key. A class
/// so that a transaction retried after the map grew goes on counting instead of starting over.
final class NonceSequence {
    private let prefix: UInt32
    private var counter: UInt64 = 0

    init() {
        prefix = UInt32.random(in: 0...UInt32.max)
    }

    func next() -> AES.GCM.Nonce {
        counter += 1
        var bytes = [UInt8](repeating: 0, count: 12)
        bytes.withUnsafeMutableBytes {
            $0.storeBytes(of: prefix.bigEndian, toByteOffset: 0, as: UInt32.self)
            $0.storeBytes(of: counter.bigEndian, toByteOffset: 4, as: UInt64.self)
        }
        return try! AES.GCM.Nonce(data: bytes)
    }
}
