import EventLog
import NIOCore
import PostgresNIO
import Synchronization

/// The log's records in PostgreSQL (`PostgresSchema`). Reads share one connection (postgres-nio
/// queues concurrent queries on it); the writer thread has its own, for its transactions. A
/// write transaction locks the `log-id` row of `meta`, so writers on several replicas take
/// turns, and reads the head under that lock: the head check is exact, and the primary key on
/// `sequence` catches anything that slips past it (`RecordStorageConflict`).
final class PostgresRecordStorage: RecordStorage {
    let url: PostgresURL
    let reads: PostgresSession
    private let writes: PostgresSession
    /// Rows per query when walking records.
    static let pageSize = 2048

    init(url: PostgresURL) {
        self.url = url
        reads = PostgresSession(url: url)
        writes = PostgresSession(url: url)
    }

    func read<T>(_ body: (any RecordView) throws -> T) throws -> T {
        try body(PostgresRecordView(session: reads))
    }

    func write<T>(_ body: (any RecordWriteView) throws -> T) throws -> T {
        do {
            return try writes.transaction {
                let view = PostgresRecordWriteView(session: writes)
                let result = try body(view)
                try view.flush()
                return result
            }
        } catch LogError.storeConflict {
            throw RecordStorageConflict.recordExists(sequence: 0)
        }
    }

    func writeFailure(_ error: any Error) -> LogError {
        if let error = error as? LogError { return error }
        return .storeRefused(place: url.place, reason: PostgresSession.reason(error))
    }

    func releaseReadMemory() {}

    /// The bytes the log's tables take, indexes included.
    func storedBytes() throws -> Int64 {
        let rows = try reads.query("""
            SELECT coalesce(pg_total_relation_size('spike.events'), 0) + coalesce(pg_total_relation_size('spike.keys'), 0)
                + coalesce(pg_total_relation_size('spike.meta'), 0)
            """)
        return try rows.first?.decode(Int64.self) ?? 0
    }

    func close() {
        reads.close()
        writes.close()
    }
}

/// Reads through queries. The bytes it hands out live as long as the view, as LMDB's do inside
/// a read transaction: readers keep pointers to earlier records of a chunk while they open it.
class PostgresRecordView: RecordView {
    let session: PostgresSession
    private var kept: [ByteBuffer] = []

    init(session: PostgresSession) { self.session = session }

    func committedHead() throws -> ChainHead? {
        try decodeHead(session.query("SELECT value FROM spike.meta WHERE name = 'head'"))
    }

    func decodeHead(_ rows: PostgresQueryResult) throws -> ChainHead? {
        guard let row = rows.first else { return nil }
        let value = try row.decode(ByteBuffer.self)
        return try value.withUnsafeReadableBytes { try LogMeta.decodeHead($0) }
    }

    func forEachRecord(
        from start: UInt64, through end: UInt64?,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var next = Int64(clamping: start)
        let last = end.map { Int64(clamping: $0) } ?? Int64.max
        while next <= last {
            let rows = try session.query("""
                SELECT sequence, record FROM spike.events WHERE sequence >= \(next) AND sequence <= \(last)
                ORDER BY sequence LIMIT \(PostgresRecordStorage.pageSize)
                """)
            for row in rows {
                let (sequence, record) = try row.decode((Int64, ByteBuffer).self)
                kept.append(record)
                let goOn = try sequenceKey(UInt64(sequence)).withUnsafeBytes { key in
                    try body(key, kept[kept.count - 1].withUnsafeReadableBytes { $0 })
                }
                guard goOn else { return }
                next = sequence + 1
            }
            if rows.count < PostgresRecordStorage.pageSize { return }
        }
    }

    func record(at sequence: UInt64) throws -> UnsafeRawBufferPointer? {
        let rows = try session.query("SELECT record FROM spike.events WHERE sequence = \(Int64(clamping: sequence))")
        guard let row = rows.first else { return nil }
        kept.append(try row.decode(ByteBuffer.self))
        return kept[kept.count - 1].withUnsafeReadableBytes { $0 }
    }

    func lastStoredSequence() throws -> UInt64? {
        let rows = try session.query("SELECT max(sequence) FROM spike.events")
        return try rows.first?.decode(Int64?.self).map { UInt64($0) }
    }

    func keyTable() throws -> [[UInt8]: [UInt8]] {
        var entries: [[UInt8]: [UInt8]] = [:]
        for row in try session.query("SELECT id, value FROM spike.keys") {
            let (id, value) = try row.decode((ByteBuffer, ByteBuffer).self)
            entries[Array(id.readableBytesView)] = Array(value.readableBytesView)
        }
        return entries
    }

    func keyTable(ids: [[UInt8]]) throws -> [[UInt8]: [UInt8]] {
        guard !ids.isEmpty else { return [:] }
        var entries: [[UInt8]: [UInt8]] = [:]
        for row in try session.query("SELECT id, value FROM spike.keys WHERE id = ANY(\(ids.map { ByteBuffer(bytes: $0) })::bytea[])") {
            let (id, value) = try row.decode((ByteBuffer, ByteBuffer).self)
            entries[Array(id.readableBytesView)] = Array(value.readableBytesView)
        }
        return entries
    }
}

/// A write transaction: the head is read under the writers' lock, records and key changes are
/// gathered and sent when the writer's body is done (`flush`), with a notification for tails.
final class PostgresRecordWriteView: PostgresRecordView, RecordWriteView {
    private var sequences: [Int64] = []
    private var records: [UnsafeMutableRawBufferPointer] = []
    private var head: ChainHead?
    private var changes: [KeyTableChanges] = []

    deinit {
        for record in records { record.deallocate() }
    }

    override func committedHead() throws -> ChainHead? {
        // The row lock orders writers; the head read after it is the latest committed one.
        try session.query("SELECT value FROM spike.meta WHERE name = 'log-id' FOR UPDATE")
        return try super.committedHead()
    }

    func reserveRecord(sequence: UInt64, count: Int) throws -> UnsafeMutableRawBufferPointer {
        let record = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
        record.initializeMemory(as: UInt8.self, repeating: 0)
        sequences.append(Int64(sequence))
        records.append(record)
        return record
    }

    func writeHead(_ head: ChainHead) throws { self.head = head }

    func applyKeyChanges(_ changes: KeyTableChanges) throws { self.changes.append(changes) }

    /// Sends what the transaction gathered, in the order the log needs: records, head, keys.
    func flush() throws {
        if !sequences.isEmpty {
            try session.query("""
                INSERT INTO spike.events (sequence, record) SELECT * FROM unnest(\(sequences)::bigint[], \(records.map { ByteBuffer(bytes: UnsafeRawBufferPointer($0)) })::bytea[])
                """)
        }
        if let head {
            try session.query("""
                INSERT INTO spike.meta (name, value) VALUES ('head', \(ByteBuffer(bytes: LogMeta.encode(head))))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value
                """)
        }
        for change in changes {
            for entry in change.puts {
                try session.query("""
                    INSERT INTO spike.keys (id, value) VALUES (\(ByteBuffer(bytes: entry.id)), \(ByteBuffer(bytes: entry.value)))
                    ON CONFLICT (id) DO UPDATE SET value = excluded.value
                    """)
            }
            if !change.deletes.isEmpty {
                try session.query("DELETE FROM spike.keys WHERE id = ANY(\(change.deletes.map { ByteBuffer(bytes: $0) })::bytea[])")
            }
        }
        if let head { try session.query("SELECT pg_notify('spike_log', \(String(head.sequence)))") }
    }
}
