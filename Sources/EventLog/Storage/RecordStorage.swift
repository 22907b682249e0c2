/// Where a log's records, head and key table are kept: one LMDB environment, or PostgreSQL
/// tables (the `PostgresEventStore` module). The log's behaviour (sealing, the chain, the
/// head check, replay, verification) is written once against this seam (`LogCore`); a storage
/// only stores bytes and answers in sequence order.
///
/// Calls block. They run on the log's writer thread, on reader workers, or in callers that keep
/// them off event loops, as every LMDB call already must be.
package protocol RecordStorage: AnyObject, Sendable {
    /// Runs `body` over one consistent view of the stored log. What a view returns is valid
    /// only inside `body`.
    func read<T>(_ body: (any RecordView) throws -> T) throws -> T

    /// Runs `body` in one durable write transaction: everything it reserved and wrote is
    /// committed together when it returns, or nothing is (it threw, or the commit failed).
    /// `body` may be run again from the start (LMDB grows a full map and retries), so it must
    /// compute everything it writes inside the call.
    func write<T>(_ body: (any RecordWriteView) throws -> T) throws -> T

    /// A failed write as the log reports it (LMDB: a short write on a full volume is ENOSPC;
    /// PostgreSQL: the server unreachable).
    func writeFailure(_ error: any Error) -> LogError

    /// A hint after a long replay: memory that held records already delivered may go.
    func releaseReadMemory()
}

/// One consistent view of a stored log (an LMDB read transaction; for PostgreSQL, queries
/// bounded by the head read first: records are never changed, so later reads agree with it).
package protocol RecordView {
    /// The committed head (nil for an empty log).
    func committedHead() throws -> ChainHead?

    /// Calls `body` with the 8-byte big-endian sequence key and the bytes of each stored record
    /// from the first one at or after `start`, in order, until `body` returns false or no record
    /// is left (with `end`, none after it is needed: a storage may stop there).
    func forEachRecord(
        from start: UInt64, through end: UInt64?,
        _ body: (_ key: UnsafeRawBufferPointer, _ record: UnsafeRawBufferPointer) throws -> Bool
    ) throws

    /// The stored bytes of record `sequence`, or nil.
    func record(at sequence: UInt64) throws -> UnsafeRawBufferPointer?

    /// The sequence of the last stored record, whatever the head says (nil: none).
    func lastStoredSequence() throws -> UInt64?

    /// Every key-table entry.
    func keyTable() throws -> [[UInt8]: [UInt8]]

    /// The key-table entries of `ids` that exist.
    func keyTable(ids: [[UInt8]]) throws -> [[UInt8]: [UInt8]]
}

/// A view inside a write transaction.
package protocol RecordWriteView: RecordView {
    /// Space for record `sequence`, filled by the caller before the transaction ends. Records
    /// are reserved in sequence order, each right after the one before.
    func reserveRecord(sequence: UInt64, count: Int) throws -> UnsafeMutableRawBufferPointer

    func writeHead(_ head: ChainHead) throws

    func applyKeyChanges(_ changes: KeyTableChanges) throws
}

/// What a storage shared by several writers throws when another writer stored a record under a
/// sequence this transaction reserved: nothing was written, and the writer decides again on the
/// stored head.
package enum RecordStorageConflict: Error {
    case recordExists(sequence: UInt64)
}
