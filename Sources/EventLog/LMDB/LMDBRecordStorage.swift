import CLMDB
import Foundation

/// The log's records in LMDB: `events` keyed by the 8-byte sequence, `meta` for the head,
/// `keys` for the key table (docs/log-format.md).
extension LMDBEnvironment: RecordStorage {
    func read<T>(_ body: (any RecordView) throws -> T) throws -> T {
        try read { (txn: LMDBTransaction) in try body(LMDBRecordView(txn: txn)) }
    }

    func write<T>(_ body: (any RecordWriteView) throws -> T) throws -> T {
        try write { (txn: LMDBTransaction) in try body(LMDBRecordView(txn: txn)) }
    }

    func writeFailure(_ error: any Error) -> LogError {
        let failure = LogError(error)
        // LMDB reports a short write of a full volume as EIO: the volume's free space tells.
        if case .storage(let storage) = failure, storage.code == EIO,
           Self.freeBytes(at: path).map({ $0 < Self.fullVolumeBytes }) == true {
            return .storage(LMDBError(code: ENOSPC, operation: storage.operation))
        }
        return failure
    }

    func releaseReadMemory() { releaseMappedPages() }

    /// Below this much free space a failed write is taken for a full volume.
    static let fullVolumeBytes: UInt64 = 4 << 20

    /// The bytes an unprivileged writer may still use on the volume holding `path`.
    static func freeBytes(at path: String) -> UInt64? {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return nil }
        return UInt64(stats.f_bavail) * UInt64(stats.f_frsize)
    }
}

struct LMDBRecordView: RecordWriteView {
    let txn: LMDBTransaction
    private var environment: LMDBEnvironment { txn.environment }

    func committedHead() throws -> ChainHead? { try LogMeta.read(txn)?.head }

    func forEachRecord(
        from start: UInt64, through end: UInt64?,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try txn.forEach(environment.events, from: sequenceKey(start), body)
    }

    func record(at sequence: UInt64) throws -> UnsafeRawBufferPointer? {
        try txn.get(environment.events, key: sequenceKey(sequence))
    }

    func lastStoredSequence() throws -> UInt64? {
        guard let last = try txn.last(environment.events) else { return nil }
        guard let sequence = sequence(fromKey: last.key) else {
            throw LogError.damagedTail(sequence: 0, reason: "the last key is \(last.key.count) bytes, not 8")
        }
        return sequence
    }

    func keyTable() throws -> [[UInt8]: [UInt8]] {
        var entries: [[UInt8]: [UInt8]] = [:]
        guard let keys = environment.keys else { return entries }
        try txn.forEach(keys, from: nil) { key, value in
            entries[Array(key)] = Array(value)
            return true
        }
        return entries
    }

    func keyTable(ids: [[UInt8]]) throws -> [[UInt8]: [UInt8]] {
        var entries: [[UInt8]: [UInt8]] = [:]
        guard let keys = environment.keys else { return entries }
        for id in ids where !id.isEmpty {
            if let value = try txn.get(keys, key: id) { entries[id] = Array(value) }
        }
        return entries
    }

    func reserveRecord(sequence: UInt64, count: Int) throws -> UnsafeMutableRawBufferPointer {
        try txn.reserve(environment.events, sequence: sequence, count: count, append: true)
    }

    func writeHead(_ head: ChainHead) throws { try LogMeta.writeHead(head, txn) }

    func applyKeyChanges(_ changes: KeyTableChanges) throws {
        guard let keys = environment.keys else { throw LogError.readOnly }
        for entry in changes.puts { try txn.put(keys, key: entry.id, value: entry.value) }
        for id in changes.deletes { try txn.delete(keys, key: id) }
    }
}
