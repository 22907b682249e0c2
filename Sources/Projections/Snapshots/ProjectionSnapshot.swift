import Crypto
import EventLog
import Foundation

/// A checkpoint of the data projection (DESIGN §3, ADR-0017): the fold of the log through record
/// `sequence`, sealed with AES-256-GCM under HKDF(R, "snapshot", epoch), so that only a holder
/// of the root key can make one or read one, and bound to the log by the chain link of that
/// record. Derived data: a start folds the log's tail on top of it, and a snapshot that fails any
/// check (its link is not the log's, it does not open, it does not decode) is ignored and the
/// whole log folded instead. Deleting snapshots loses nothing.
///
/// Stored bytes: a 64-byte clear header (magic "SPKSNAP1", format, reserved, epoch, sequence,
/// link, time taken), then a 12-byte nonce, the ciphertext and the 16-byte tag; the header is the
/// ciphertext's associated data (docs/log-format.md).
public struct ProjectionSnapshot: Sendable {
    public struct Header: Equatable, Sendable {
        /// The epoch whose snapshot key sealed it.
        public var epoch: UInt32
        /// The last record folded into it.
        public var sequence: UInt64
        /// The chain link of that record: the snapshot is of the log whose record `sequence` has it.
        public var link: ChainHash
        /// When it was taken, in milliseconds since the Unix epoch.
        public var takenAt: Int64

        public init(epoch: UInt32, sequence: UInt64, link: ChainHash, takenAt: Int64) {
            self.epoch = epoch
            self.sequence = sequence
            self.link = link
            self.takenAt = takenAt
        }

        static let size = 64
        static let magic = Array("SPKSNAP1".utf8)
        static let format: UInt16 = 1

        var encoded: [UInt8] {
            var writer = SnapshotWriter()
            writer.bytes.append(contentsOf: Self.magic)
            writer.integer(Self.format)
            writer.integer(UInt16(0))
            writer.integer(epoch)
            writer.integer(sequence)
            writer.bytes.append(contentsOf: link.bytes)
            writer.integer(takenAt)
            return writer.bytes
        }

        /// The clear header of stored snapshot bytes: readable without the root key, so that a
        /// start can tell which records the snapshot stands for before it can open it.
        public init(stored: [UInt8]) throws(SnapshotError) {
            guard stored.count >= Self.size + 12 + 16 else { throw .malformed("\(stored.count) bytes, shorter than a header, a nonce and a tag") }
            var reader = SnapshotReader(stored[..<Self.size])
            guard try reader.take(Self.magic.count) == Self.magic else { throw .malformed("not a snapshot (magic)") }
            let format: UInt16 = try reader.integer()
            guard format == Self.format else { throw .malformed("format \(format), this build reads \(Self.format)") }
            _ = try reader.integer() as UInt16
            epoch = try reader.integer()
            sequence = try reader.integer()
            link = ChainHash(bytes: try reader.take(ChainHash.size))!
            takenAt = try reader.integer()
        }
    }

    public var header: Header
    public var data: DataProjection
    /// The epoch the last rotation before it opened (`DataFold.openedByRotation`).
    public var openedByRotation: UInt32?

    public init(header: Header, data: DataProjection, openedByRotation: UInt32?) {
        self.header = header
        self.data = data
        self.openedByRotation = openedByRotation
    }

    /// The fold it stands for, to fold the log's tail on.
    public var fold: DataFold { DataFold(data: data, openedByRotation: openedByRotation) }

    /// The bytes to store: the header in clear, the projection sealed under `key` (the epoch's
    /// snapshot key) with the header as associated data.
    public func sealed(with key: SymmetricKey) throws -> [UInt8] {
        let header = self.header.encoded
        var plaintext = Self.encode(data, openedByRotation: openedByRotation)
        defer { _ = plaintext.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: header)
        return header + Array(box.combined!)
    }

    /// Opens stored bytes with `key`. Throws when they were not sealed under it (another root key
    /// or epoch, or someone without R made them), were changed, or do not decode.
    public static func open(_ stored: [UInt8], with key: SymmetricKey) throws(SnapshotError) -> ProjectionSnapshot {
        let header = try Header(stored: stored)
        var plaintext: [UInt8]
        do {
            let box = try AES.GCM.SealedBox(combined: stored[Header.size...])
            plaintext = Array(try AES.GCM.open(box, using: key, authenticating: stored[..<Header.size]))
        } catch {
            throw .doesNotOpen
        }
        defer { _ = plaintext.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        let (data, opened) = try decode(plaintext)
        return ProjectionSnapshot(header: header, data: data, openedByRotation: opened)
    }

    // MARK: - The projection's encoding (big-endian; strings and byte strings length-prefixed)

    static func encode(_ data: DataProjection, openedByRotation: UInt32?) -> [UInt8] {
        var writer = SnapshotWriter()
        writer.integer(UInt8(openedByRotation == nil ? 0 : 1))
        writer.integer(openedByRotation ?? 0)
        writer.integer(data.epoch)
        writer.integer(Int64(data.accessDenials))
        writer.integer(UInt32(data.secrets.count))
        for (path, entry) in data.secrets {
            writer.string(path)
            writer.integer(entry.createdAt)
            writer.integer(entry.updatedAt)
            writer.integer(Int64(entry.maxVersions))
            writer.integer(UInt32(entry.versions.count))
            for version in entry.versions.values {
                writer.integer(Int64(version.version))
                writer.integer(version.createdAt)
                writer.integer(UInt8((version.deletedAt == nil ? 0 : 1) | (version.destroyed ? 2 : 0)))
                if let deletedAt = version.deletedAt { writer.integer(deletedAt) }
                writer.data(version.keyID)
                writer.data(version.sealedValue)
                writer.integer(version.epoch)
            }
        }
        writer.integer(UInt32(data.policies.count))
        for policy in data.policies.values {
            writer.string(policy.name)
            writer.string(policy.spiffeidPattern)
            writer.string(policy.pathPattern)
            writer.integer(UInt32(policy.permissions.count))
            for permission in policy.permissions { writer.string(permission.rawValue) }
            writer.integer(policy.createdAt)
            writer.integer(policy.updatedAt)
        }
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(SnapshotError) -> (DataProjection, openedByRotation: UInt32?) {
        var reader = SnapshotReader(bytes[...])
        let rotated: UInt8 = try reader.integer()
        guard rotated <= 1 else { throw .malformed("rotation flag \(rotated)") }
        let opened: UInt32 = try reader.integer()
        let epoch: UInt32 = try reader.integer()
        let denials: Int64 = try reader.integer()
        var secrets: [String: SecretEntry] = [:]
        let secretCount: UInt32 = try reader.integer()
        secrets.reserveCapacity(Int(min(secretCount, 1 << 24)))
        for _ in 0..<secretCount {
            let path = try reader.string()
            let createdAt: Int64 = try reader.integer()
            let updatedAt: Int64 = try reader.integer()
            let maxVersions: Int64 = try reader.integer()
            var versions: [Int: SecretVersion] = [:]
            let versionCount: UInt32 = try reader.integer()
            for _ in 0..<versionCount {
                let number: Int64 = try reader.integer()
                let created: Int64 = try reader.integer()
                let flags: UInt8 = try reader.integer()
                guard flags & ~3 == 0 else { throw .malformed("version flags \(flags)") }
                let deletedAt: Int64? = flags & 1 != 0 ? try reader.integer() : nil
                let keyID = try reader.data()
                let sealedValue = try reader.data()
                let sealedEpoch: UInt32 = try reader.integer()
                versions[Int(number)] = SecretVersion(version: Int(number), createdAt: created, deletedAt: deletedAt, destroyed: flags & 2 != 0,
                                                      keyID: keyID, sealedValue: sealedValue, epoch: sealedEpoch)
            }
            guard secrets.updateValue(SecretEntry(restoring: versions, createdAt: createdAt, updatedAt: updatedAt, maxVersions: Int(maxVersions)),
                                      forKey: path) == nil
            else { throw .malformed("the path \(path) twice") }
        }
        var policies: [String: Policy] = [:]
        let policyCount: UInt32 = try reader.integer()
        for _ in 0..<policyCount {
            let name = try reader.string()
            let idPattern = try reader.string()
            let pathPattern = try reader.string()
            let permissionCount: UInt32 = try reader.integer()
            var permissions: [String] = []
            for _ in 0..<permissionCount { permissions.append(try reader.string()) }
            let createdAt: Int64 = try reader.integer()
            let updatedAt: Int64 = try reader.integer()
            policies[name] = Policy(PolicyPut(name: name, spiffeidPattern: idPattern, pathPattern: pathPattern, permissions: permissions,
                                              createdAt: createdAt, updatedAt: updatedAt))
        }
        guard reader.isAtEnd else { throw .malformed("bytes after the projection") }
        return (DataProjection(restoring: secrets, policies: policies, accessDenials: Int(denials), epoch: epoch), rotated == 1 ? opened : nil)
    }
}

/// Why a stored snapshot was not used (the start then folds the whole log).
public enum SnapshotError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    /// Not sealed under this root key's snapshot key for its epoch, or changed since.
    case doesNotOpen
    /// Its record's link is not the log's: a snapshot of another log, or of a log since rewritten.
    case notOfThisLog(sequence: UInt64)
    /// Of an epoch other than the current one (a rotation or a reset since).
    case otherEpoch(snapshot: UInt32, current: UInt32)
    /// Of a record beyond those this Nexus has folded (another replica took it since).
    case ahead(snapshot: UInt64, folded: UInt64)

    public var description: String {
        switch self {
        case .malformed(let why): "the snapshot is malformed: \(why)"
        case .doesNotOpen: "the snapshot does not open under this root key: it was changed, or not made by this system's Nexus"
        case .notOfThisLog(let sequence): "the snapshot names record \(sequence) with a link the log does not have: it is not of this log"
        case .otherEpoch(let snapshot, let current): "the snapshot is of epoch \(snapshot), the data is of epoch \(current)"
        case .ahead(let snapshot, let folded): "the snapshot is of record \(snapshot), beyond record \(folded), the last this Nexus has folded"
        }
    }
}

private struct SnapshotWriter {
    var bytes: [UInt8] = []

    mutating func integer<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func data(_ value: [UInt8]) {
        integer(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func string(_ value: String) { data(Array(value.utf8)) }
}

private struct SnapshotReader {
    private var rest: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { rest = bytes }

    var isAtEnd: Bool { rest.isEmpty }

    mutating func take(_ count: Int) throws(SnapshotError) -> [UInt8] {
        guard count >= 0, rest.count >= count else { throw .malformed("truncated") }
        defer { rest = rest.dropFirst(count) }
        return Array(rest.prefix(count))
    }

    mutating func integer<T: FixedWidthInteger>() throws(SnapshotError) -> T {
        let size = MemoryLayout<T>.size
        guard rest.count >= size else { throw .malformed("truncated") }
        var value = T.zero
        for byte in rest.prefix(size) { value = value << 8 | T(truncatingIfNeeded: byte) }
        rest = rest.dropFirst(size)
        return value
    }

    mutating func data() throws(SnapshotError) -> [UInt8] {
        let count: UInt32 = try integer()
        return try take(Int(count))
    }

    mutating func string() throws(SnapshotError) -> String {
        let bytes = try data()
        guard let string = String(validating: bytes, as: UTF8.self) else { throw .malformed("a string that is not UTF-8") }
        return string
    }
}
