/// What a record is: a segment record carries a sealed segment key; an event record carries an
/// encrypted event body; an authenticated event record carries an encrypted event body followed,
/// inside the encryption, by an `EventAuthenticator` tag.
public enum RecordType: UInt8, Sendable {
    case segment = 1
    case event = 2
    case authenticatedEvent = 3

    var isEvent: Bool { self != .segment }
}

/// The clear part of a record (68 bytes, big-endian; `docs/log-format.md`). Only what is needed to
/// order, index and verify the log is here; everything about who and what is in the body. The
/// header is the additional authenticated data of the body's AES-GCM.
public struct RecordHeader: Equatable, Sendable {
    public static let size = 68
    static let previousHashOffset = 32
    public static let formatVersion: UInt8 = 1

    public var type: RecordType
    /// The domain's event kind (0 for segment records); the log does not interpret it.
    public var kind: UInt16
    public var epoch: UInt32
    public var sequence: UInt64
    /// Unix time in nanoseconds when the record was written.
    public var time: Int64
    /// The sequence of the segment record whose key encrypts this record's body.
    public var segment: UInt64
    public var previousHash: ChainHash
    public var bodyLength: UInt32

    public init(type: RecordType, kind: UInt16, epoch: UInt32, sequence: UInt64, time: Int64, segment: UInt64,
                previousHash: ChainHash, bodyLength: UInt32) {
        self.type = type
        self.kind = kind
        self.epoch = epoch
        self.sequence = sequence
        self.time = time
        self.segment = segment
        self.previousHash = previousHash
        self.bodyLength = bodyLength
    }

    func encode(into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= Self.size)
        buffer.storeBytes(of: Self.formatVersion, toByteOffset: 0, as: UInt8.self)
        buffer.storeBytes(of: type.rawValue, toByteOffset: 1, as: UInt8.self)
        buffer.storeBytes(of: kind.bigEndian, toByteOffset: 2, as: UInt16.self)
        buffer.storeBytes(of: epoch.bigEndian, toByteOffset: 4, as: UInt32.self)
        buffer.storeBytes(of: sequence.bigEndian, toByteOffset: 8, as: UInt64.self)
        buffer.storeBytes(of: time.bigEndian, toByteOffset: 16, as: Int64.self)
        buffer.storeBytes(of: segment.bigEndian, toByteOffset: 24, as: UInt64.self)
        previousHash.write(to: buffer, at: Self.previousHashOffset)
        buffer.storeBytes(of: bodyLength.bigEndian, toByteOffset: 64, as: UInt32.self)
    }

    /// Decodes the header at the start of `record` and checks that the body length matches.
    static func decode(record: UnsafeRawBufferPointer) throws(RecordFormatError) -> RecordHeader {
        guard record.count >= size else { throw .truncated(length: record.count) }
        let version = record.load(fromByteOffset: 0, as: UInt8.self)
        guard version == formatVersion else { throw .unknownFormatVersion(version) }
        let rawType = record.load(fromByteOffset: 1, as: UInt8.self)
        guard let type = RecordType(rawValue: rawType) else { throw .unknownRecordType(rawType) }
        let header = RecordHeader(
            type: type,
            kind: UInt16(bigEndian: record.loadUnaligned(fromByteOffset: 2, as: UInt16.self)),
            epoch: UInt32(bigEndian: record.loadUnaligned(fromByteOffset: 4, as: UInt32.self)),
            sequence: UInt64(bigEndian: record.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
            time: Int64(bigEndian: record.loadUnaligned(fromByteOffset: 16, as: Int64.self)),
            segment: UInt64(bigEndian: record.loadUnaligned(fromByteOffset: 24, as: UInt64.self)),
            previousHash: ChainHash(UnsafeRawBufferPointer(rebasing: record[32..<64])),
            bodyLength: UInt32(bigEndian: record.loadUnaligned(fromByteOffset: 64, as: UInt32.self))
        )
        guard Int(header.bodyLength) == record.count - size else {
            throw .bodyLengthMismatch(declared: Int(header.bodyLength), actual: record.count - size)
        }
        return header
    }
}

/// Why a stored record could not be decoded.
public enum RecordFormatError: Error, Equatable, CustomStringConvertible {
    case truncated(length: Int)
    case unknownFormatVersion(UInt8)
    case unknownRecordType(UInt8)
    case bodyLengthMismatch(declared: Int, actual: Int)
    case malformedSegmentBody(String)

    public var description: String {
        switch self {
        case .truncated(let length):
            "record is \(length) bytes, shorter than the \(RecordHeader.size)-byte header"
        case .unknownFormatVersion(let version):
            "record format version \(version) is not known to this build (it reads version \(RecordHeader.formatVersion)); use a newer spike"
        case .unknownRecordType(let type):
            "unknown record type \(type)"
        case .bodyLengthMismatch(let declared, let actual):
            "header declares a \(declared)-byte body but \(actual) bytes follow"
        case .malformedSegmentBody(let reason):
            "malformed segment record: \(reason)"
        }
    }
}

/// The 8-byte big-endian key of a record in the `events` database.
@inline(__always)
package func sequenceKey(_ sequence: UInt64) -> [UInt8] {
    withUnsafeBytes(of: sequence.bigEndian) { Array($0) }
}

@inline(__always)
func sequence(fromKey key: UnsafeRawBufferPointer) -> UInt64? {
    guard key.count == 8 else { return nil }
    return UInt64(bigEndian: key.loadUnaligned(as: UInt64.self))
}
