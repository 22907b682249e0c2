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

/// The `meta` database: format version, log id and chain head.
struct LogMeta {
    static let formatVersion: UInt32 = 1
    static let formatKey = Array("format".utf8)
    static let logIDKey = Array("log-id".utf8)
    static let headKey = Array("head".utf8)

    var logID: LogID
    var head: ChainHead?

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
        guard format.count == 4 else {
            throw LogError.corruptMeta(key: "format", reason: "\(format.count) bytes instead of 4")
        }
        let version = UInt32(bigEndian: format.loadUnaligned(as: UInt32.self))
        guard version == formatVersion else { throw LogError.unsupportedFormat(found: version, supported: formatVersion) }
        guard let id else { throw LogError.corruptMeta(key: "log-id", reason: "missing") }
        guard let logID = LogID(bytes: Array(id)) else {
            throw LogError.corruptMeta(key: "log-id", reason: "\(id.count) bytes instead of \(LogID.size)")
        }
        var head: ChainHead?
        if let headValue {
            guard headValue.count == 8 + ChainHash.size else {
                throw LogError.corruptMeta(key: "head", reason: "\(headValue.count) bytes instead of \(8 + ChainHash.size)")
            }
            head = ChainHead(
                sequence: UInt64(bigEndian: headValue.loadUnaligned(as: UInt64.self)),
                hash: ChainHash(UnsafeRawBufferPointer(rebasing: headValue[8...])))
        } else if try txn.count(env.events) > 0 {
            throw LogError.corruptMeta(key: "head", reason: "missing although the log holds records")
        }
        return LogMeta(logID: logID, head: head)
    }

    static func initialize(_ txn: LMDBTransaction) throws -> LogMeta {
        let meta = LogMeta(logID: .random(), head: nil)
        try txn.put(txn.environment.meta, key: formatKey, value: withUnsafeBytes(of: formatVersion.bigEndian) { Array($0) })
        try txn.put(txn.environment.meta, key: logIDKey, value: meta.logID.bytes)
        return meta
    }

    static func writeHead(_ head: ChainHead, _ txn: LMDBTransaction) throws {
        try txn.put(txn.environment.meta, key: headKey, value: sequenceKey(head.sequence) + head.hash.bytes)
    }
}
