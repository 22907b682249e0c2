import Foundation
import Synchronization

/// The append-only, encrypted event log in one LMDB environment (one data directory): the
/// embedded `EventStore`.
///
/// Appends are durable when `append` returns; concurrent appends share one transaction and one
/// fsync. Event bodies are encrypted with segment keys that are sealed to the configured
/// recipients, so writing needs public keys only and reading needs one private key
/// (`reader(keyring:)`). Nothing in `events` is ever overwritten or deleted.
public final class EventLog: EventStore {
    public struct Options: Sendable {
        /// The map size to start with; the map doubles whenever it is full.
        public var initialMapSize: Int = 64 << 20
        /// A new segment (a new key) starts after this many records, after `segmentMaxAge`, at
        /// every open, and whenever the recipients change.
        public var segmentMaxRecords: UInt64 = 1_000_000
        public var segmentMaxAge: Duration = .seconds(24 * 3600)
        /// The most events written in one transaction.
        public var maxBatchEvents: Int = 16_384
        /// The largest event body accepted.
        public var maxEventSize: Int = 16 << 20
        public var readOnly = false
        /// The id a log created by this open gets (`spike log copy` keeps the source's: the
        /// genesis and every segment key are bound to it); a new random one when nil.
        package var newLogID: LogID?

        public init() {}
    }

    public let directory: String
    let environment: LMDBEnvironment
    package let core: LogCore
    private let writerLock: WriterLock?

    public var logID: LogID { core.logID }
    public var isShared: Bool { false }
    public var location: String { directory }

    private init(directory: String, environment: LMDBEnvironment, logID: LogID, head: ChainHead?, options: Options, writerLock: WriterLock?) {
        self.directory = directory
        self.writerLock = writerLock
        self.environment = environment
        core = LogCore(
            storage: environment, logID: logID, head: head,
            limits: options.readOnly ? nil : .init(
                segmentMaxRecords: options.segmentMaxRecords, segmentMaxAge: options.segmentMaxAge,
                maxBatchEvents: options.maxBatchEvents, maxEventSize: options.maxEventSize))
    }

    /// Opens the log in `directory`, creating the directory (mode 0700) and the log if there is
    /// none. A writable open refuses a log whose end does not match its committed chain head,
    /// and a log that another process holds open for writing (`LogError.writerLocked`).
    public static func open(directory: String, options: Options = .init()) throws(LogError) -> EventLog {
        var writerLock: WriterLock?
        if !options.readOnly {
            try? FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            writerLock = try WriterLock(directory: directory)
        }
        let environment: LMDBEnvironment
        do {
            environment = try LMDBEnvironment(directory: directory, mapSize: options.initialMapSize, readOnly: options.readOnly)
        } catch {
            throw LogError(error)
        }
        let meta: LogMeta
        do {
            if let existing = try environment.read({ try LogMeta.read($0) }) {
                meta = existing
            } else if options.readOnly {
                throw LogError.corruptMeta(key: "format", reason: "\(directory) holds no log")
            } else {
                meta = try environment.write { try LogMeta.initialize($0, logID: options.newLogID ?? .random()) }
            }
            if !options.readOnly { try LogCore.checkTail(environment, logID: meta.logID) }
        } catch {
            throw LogError(error)
        }
        return EventLog(directory: directory, environment: environment, logID: meta.logID, head: meta.head, options: options,
                        writerLock: writerLock)
    }

    /// Sets the keys that new segment keys are sealed to, and the epoch of new records. The next
    /// append starts a new segment.
    public func setRecipients(_ recipients: [LogRecipient], epoch: UInt32) {
        core.setRecipients(recipients, epoch: epoch)
    }

    /// Appends events contiguously in one transaction; returns their sequences once durable.
    /// `keyChanges` are written to the key table in that same transaction: the events say why.
    /// With `expectedHead`, the append goes through only if the log's last record is still that
    /// sequence (`LogError.headMoved` otherwise, and nothing is written).
    @discardableResult
    public func append(_ events: [NewEvent], keyChanges: KeyTableChanges, expectedHead: UInt64?) async throws -> ClosedRange<UInt64> {
        try await core.append(events, keyChanges: keyChanges, expectedHead: expectedHead).range
    }

    public func append(_ events: [NewEvent], keyChanges: KeyTableChanges, after position: ChainHead) async throws -> ChainHead {
        try await core.append(events, keyChanges: keyChanges, expectedHead: position.sequence).head
    }

    /// Every entry of the key table (ids to values), as of the last commit.
    public func keyTable() throws -> [[UInt8]: [UInt8]] {
        defer { environment.releaseMappedPages() }  // read whole, once: its pages need not stay
        return try core.keyTable()
    }
    public func keyTable(ids: [[UInt8]]) throws -> [[UInt8]: [UInt8]] { try core.keyTable(ids: ids) }
    public func waitForHead(beyond sequence: UInt64) async -> UInt64? { await core.waitForHead(beyond: sequence) }

    /// One process writes an LMDB log: every append is in its turn.
    public func inTurn<T>(_ body: () async throws -> T) async throws -> T { try await body() }

    public var writerExecutor: (any TaskExecutor)? { core.writerExecutor }

    public func replay(after position: ChainHead, keyring: LogKeyring, _ body: (EventView) throws -> Void) throws -> ChainHead {
        try core.replay(after: position, keyring: keyring, body)
    }

    /// The chain link of record `sequence` (what the head holds while it is the last record), or
    /// nil when the log does not reach it. A witnessed head is checked against it.
    public func link(at sequence: UInt64) throws -> ChainHash? { try core.link(at: sequence) }

    /// The last committed record, or nil for an empty log.
    public func head() throws -> ChainHead? { try core.head() }

    /// A reader that opens segment keys with `keyring`.
    public func reader(keyring: LogKeyring) -> LogReader { core.reader(keyring: keyring) }

    /// Walks the whole log; with a keyring it also opens every segment key and every body.
    public func verify(keyring: LogKeyring? = nil) -> VerificationReport { core.verify(keyring: keyring) }

    /// Writes a consistent, compacted copy of the log to `target` (created if missing, must be
    /// empty) while appends go on. The copy opens and verifies like the original.
    public func backup(to target: String) throws(LogError) {
        let manager = FileManager.default
        if manager.fileExists(atPath: target) {
            let contents = (try? manager.contentsOfDirectory(atPath: target)) ?? ["?"]
            guard contents.isEmpty else { throw .backupTargetNotEmpty(target) }
        } else {
            do {
                try manager.createDirectory(atPath: target, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw .backupTargetNotEmpty("\(target) (cannot create: \(error.localizedDescription))")
            }
        }
        do { try environment.copy(to: target) } catch { throw LogError(error) }
    }

    /// Writes what is queued, then stops accepting appends and lets another process open the
    /// log for writing. Reads keep working.
    public func close() {
        core.close()
        writerLock?.release()
    }

    public func latestSnapshot() throws -> StoredSnapshot? {
        let snapshot = try environment.read { txn -> StoredSnapshot? in
            guard let last = try txn.last(environment.snapshots), last.key.count == 8 else { return nil }
            return StoredSnapshot(sequence: UInt64(bigEndian: last.key.loadUnaligned(as: UInt64.self)), bytes: Array(last.value))
        }
        // Copied out: its pages of the map (tens of MB) need not stay resident.
        if snapshot != nil { environment.releaseMappedPages() }
        return snapshot
    }

    /// One write transaction of its own (LMDB serializes it with the log writer's): the caller's
    /// thread blocks until it is durable, so it is never an event loop's.
    public func storeSnapshot(_ bytes: [UInt8], sequence: UInt64) throws {
        try environment.write { txn in
            // A newer one stays (as in PostgreSQL, where replicas store theirs at once).
            if let last = try txn.last(environment.snapshots), last.key.count == 8,
               UInt64(bigEndian: last.key.loadUnaligned(as: UInt64.self)) > sequence { return }
            try Self.dropSnapshots(txn, in: environment)
            try txn.put(environment.snapshots, key: withUnsafeBytes(of: sequence.bigEndian) { Array($0) }, value: bytes)
        }
    }

    public func deleteSnapshots() throws {
        try environment.write { txn in try Self.dropSnapshots(txn, in: environment) }
    }

    private static func dropSnapshots(_ txn: LMDBTransaction, in environment: LMDBEnvironment) throws {
        var keys: [[UInt8]] = []
        try txn.forEach(environment.snapshots, from: nil) { key, _ in
            keys.append(Array(key))
            return true
        }
        for key in keys { try txn.delete(environment.snapshots, key: key) }
    }

    public var mapSize: Int { environment.mapSize }

    /// The bytes the log takes on disk (LMDB's data file).
    public var storedBytes: Int64 {
        let file = (directory as NSString).appendingPathComponent("data.mdb")
        return (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0
    }

    public func replay(from start: UInt64, through end: UInt64?, keyring: LogKeyring, _ body: (EventView) throws -> Void) throws -> UInt64 {
        try core.replay(from: start, through: end, keyring: keyring, body)
    }

    /// Calls `body` with the clear header of every record (segment records included) from
    /// `start` through `end`, the chain checked as a replay does, nothing opened: what a tool
    /// without a key can see (sequence, time, epoch, kind, sizes). Returns the records seen.
    @discardableResult
    public func walkHeaders(from start: UInt64 = 1, through end: UInt64? = nil, _ body: (RecordHeader) throws -> Void) throws -> UInt64 {
        try core.walkHeaders(from: start, through: end, body)
    }

    public func tail(from start: UInt64, keyring: LogKeyring) -> AsyncThrowingStream<EventRecord, any Error> {
        core.tail(from: start, keyring: keyring)
    }

    /// What the writer has committed since the log was opened.
    public var statistics: LogStatistics { core.statistics }

    /// The raw bytes of a stored record (header and still-encrypted body), for tools and tests.
    public func rawRecord(at sequence: UInt64) throws -> [UInt8] { try core.rawRecord(at: sequence) }
}
