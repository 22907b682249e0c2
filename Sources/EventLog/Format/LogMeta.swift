/// The last committed record: its sequence and hash. Stored in `meta` in the same transaction as
/// every append, so a damaged or missing end of the log is detectable.
public struct ChainHead: Equatable, Sendable {
    public var sequence: UInt64
    public var hash: ChainHash

    public init(sequence: UInt64, hash: ChainHash) {
        self.sequence = sequence
        self.hash = hash
    }

    /// The head of a log with no record: sequence 0 and the genesis hash record 1 links to.
    public static func empty(_ logID: LogID) -> ChainHead {
        ChainHead(sequence: 0, hash: .genesis(of: logID))
    }
}

/// The `meta` entries every store keeps (LMDB's `meta` database, PostgreSQL's `meta` table),
/// with the same values: format version, log id and chain head.
package struct LogMeta {
    package static let formatVersion: UInt32 = 1
    static let formatKey = Array("format".utf8)
    static let logIDKey = Array("log-id".utf8)
    static let headKey = Array("head".utf8)

    package var logID: LogID
    package var head: ChainHead?

    /// Reads `meta`; nil for a new, empty environment.
    static func read(_ txn: LMDBTransaction) throws -> LogMeta? {
        let env = txn.environment
        let format = try txn.get(env.meta, key: formatKey)
        let id = try txn.get(env.meta, key: logIDKey)
        let headValue = try txn.get(env.meta, key: headKey)
        if format == nil, id == nil, headValue == nil {
            if try txn.count(env.events) == 0 { return nil }
            throw LogError.corruptMeta(key: "format", reason: "missing although the log holds records")
        }
        guard let format else { throw LogError.corruptMeta(key: "format", reason: "missing") }
        try checkFormat(format)
        guard let id else { throw LogError.corruptMeta(key: "log-id", reason: "missing") }
        let logID = try decodeLogID(id)
        var head: ChainHead?
        if let headValue {
            head = try decodeHead(headValue)
        } else if try txn.count(env.events) > 0 {
            throw LogError.corruptMeta(key: "head", reason: "missing although the log holds records")
        }
        return LogMeta(logID: logID, head: head)
    }

    static func initialize(_ txn: LMDBTransaction, logID: LogID = .random()) throws -> LogMeta {
        let meta = LogMeta(logID: logID, head: nil)
        try txn.put(txn.environment.meta, key: formatKey, value: encodedFormat)
        try txn.put(txn.environment.meta, key: logIDKey, value: meta.logID.bytes)
        return meta
    }

    static func writeHead(_ head: ChainHead, _ txn: LMDBTransaction) throws {
        try txn.put(txn.environment.meta, key: headKey, value: encode(head))
    }

    // MARK: - The values, shared by every store

    package static var encodedFormat: [UInt8] { withUnsafeBytes(of: formatVersion.bigEndian) { Array($0) } }

    package static func checkFormat(_ value: UnsafeRawBufferPointer) throws(LogError) {
        guard value.count == 4 else { throw .corruptMeta(key: "format", reason: "\(value.count) bytes instead of 4") }
        let version = UInt32(bigEndian: value.loadUnaligned(as: UInt32.self))
        guard version == formatVersion else { throw .unsupportedFormat(found: version, supported: formatVersion) }
    }

    package static func decodeLogID(_ value: UnsafeRawBufferPointer) throws(LogError) -> LogID {
        guard let logID = LogID(bytes: Array(value)) else {
            throw .corruptMeta(key: "log-id", reason: "\(value.count) bytes instead of \(LogID.size)")
        }
        return logID
    }

    /// The head: u64 sequence ‖ the 32-byte link of that record.
    package static func encode(_ head: ChainHead) -> [UInt8] { sequenceKey(head.sequence) + head.hash.bytes }

    package static func decodeHead(_ value: UnsafeRawBufferPointer) throws(LogError) -> ChainHead {
        guard value.count == 8 + ChainHash.size else {
            throw .corruptMeta(key: "head", reason: "\(value.count) bytes instead of \(8 + ChainHash.size)")
        }
        return ChainHead(sequence: UInt64(bigEndian: value.loadUnaligned(as: UInt64.self)),
                         hash: ChainHash(UnsafeRawBufferPointer(rebasing: value[8...])))
    }
}
