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

        public init() {}
    }

    public let logID: LogID
    public let directory: String
    let environment: LMDBEnvironment
    let notifier: HeadNotifier
    private let writer: LogWriter?
    private let writerLock: WriterLock?
    private let options: Options

    private init(directory: String, environment: LMDBEnvironment, logID: LogID, head: ChainHead?, options: Options, writerLock: WriterLock?) {
        self.directory = directory
        self.writerLock = writerLock
        self.environment = environment
        self.logID = logID
        self.options = options
        let notifier = HeadNotifier(head: head?.sequence ?? 0)
        self.notifier = notifier
        if options.readOnly {
            writer = nil
        } else {
            writer = LogWriter(
                environment: environment, logID: logID,
                options: .init(segmentMaxRecords: options.segmentMaxRecords, segmentMaxAge: options.segmentMaxAge,
                               maxBatchEvents: options.maxBatchEvents),
                onCommit: { notifier.publish(head: $0.sequence) })
        }
    }

    deinit {
        writer?.stop()
        notifier.close()
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
                meta = try environment.write { try LogMeta.initialize($0) }
            }
            if !options.readOnly { try checkTail(environment, meta: meta) }
        } catch {
            throw LogError(error)
        }
        return EventLog(directory: directory, environment: environment, logID: meta.logID, head: meta.head, options: options,
                        writerLock: writerLock)
    }

    /// Sets the keys that new segment keys are sealed to, and the epoch of new records. The next
    /// append starts a new segment.
    public func setRecipients(_ recipients: [LogRecipient], epoch: UInt32) {
        writer?.setRecipients(recipients, epoch: epoch)
    }

    /// Appends events contiguously in one transaction; returns their sequences once durable.
    /// `keyChanges` are written to the key table in that same transaction: the events say why.
    /// With `expectedHead`, the append goes through only if the log's last record is still that
    /// sequence (`LogError.headMoved` otherwise, and nothing is written).
    @discardableResult
    public func append(_ events: [NewEvent], keyChanges: KeyTableChanges, expectedHead: UInt64?) async throws -> ClosedRange<UInt64> {
        guard let writer else { throw LogError.readOnly }
        guard !events.isEmpty else { throw LogError.noEvents }
        for event in events where event.body.count > options.maxEventSize {
            throw LogError.eventTooLarge(size: event.body.count, limit: options.maxEventSize)
        }
        try keyChanges.validate()
        return try await writer.append(events, keyChanges: keyChanges, expectedHead: expectedHead)
    }

    /// Every entry of the key table (ids to values), as of the last commit.
    public func keyTable() throws -> [[UInt8]: [UInt8]] {
        try environment.read { txn in
            var entries: [[UInt8]: [UInt8]] = [:]
            guard let keys = environment.keys else { return entries }
            try txn.forEach(keys, from: nil) { key, value in
                entries[Array(key)] = Array(value)
                return true
            }
            return entries
        }
    }

    /// The chain link of record `sequence` (what the head holds while it is the last record), or
    /// nil when the log does not reach it. A witnessed head is checked against it.
    public func link(at sequence: UInt64) throws -> ChainHash? {
        try environment.read { txn in
            guard sequence > 0, let record = try txn.get(environment.events, key: sequenceKey(sequence)) else { return nil }
            let header = try RecordHeader.decode(record: record)
            let crypto = RecordCrypto()
            return crypto.link(header.previousHash, crypto.contentHash(record))
        }
    }

    /// The last committed record, or nil for an empty log.
    public func head() throws -> ChainHead? {
        try environment.read { try LogMeta.read($0)?.head }
    }

    /// A reader that opens segment keys with `keyring`.
    public func reader(keyring: LogKeyring) -> LogReader {
        LogReader(log: self, keyring: keyring)
    }

    /// Walks the whole log; with a keyring it also opens every segment key and every body.
    public func verify(keyring: LogKeyring? = nil) -> VerificationReport {
        LogVerifier(environment: environment, logID: logID, keyring: keyring).run()
    }

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
        writer?.stop()
        writerLock?.release()
        notifier.close()
    }

    public var mapSize: Int { environment.mapSize }

    /// The bytes the log takes on disk (LMDB's data file).
    public var storedBytes: Int64 {
        let file = (directory as NSString).appendingPathComponent("data.mdb")
        return (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0
    }

    public func replay(from start: UInt64, through end: UInt64?, keyring: LogKeyring, _ body: (EventView) throws -> Void) throws -> UInt64 {
        try reader(keyring: keyring).replay(from: start, through: end, body)
    }

    /// Calls `body` with the clear header of every record (segment records included) from
    /// `start` through `end`, the chain checked as a replay does, nothing opened: what a tool
    /// without a key can see (sequence, time, epoch, kind, sizes). Returns the records seen.
    @discardableResult
    public func walkHeaders(from start: UInt64 = 1, through end: UInt64? = nil, _ body: (RecordHeader) throws -> Void) throws -> UInt64 {
        try reader(keyring: LogKeyring([])).replayHeaders(from: start, through: end, body)
    }

    public func tail(from start: UInt64, keyring: LogKeyring) -> AsyncThrowingStream<EventRecord, any Error> {
        var iterator = reader(keyring: keyring).tail(from: start).makeAsyncIterator()
        return AsyncThrowingStream(unfolding: { try await iterator.next() })
    }

    /// What the writer has committed since the log was opened.
    public var statistics: LogStatistics { writer?.statistics.withLock { $0 } ?? LogStatistics() }

    /// The raw bytes of a stored record (header and still-encrypted body), for tools and tests.
    public func rawRecord(at sequence: UInt64) throws -> [UInt8] {
        try environment.read { txn in
            guard let value = try txn.get(environment.events, key: sequenceKey(sequence)) else {
                throw LogError.recordNotFound(sequence: sequence)
            }
            return Array(value)
        }
    }

    /// Checks that the last record is the committed head and that it links to the one before
    /// (the walk over the last two records; replays check the rest of the chain).
    private static func checkTail(_ environment: LMDBEnvironment, meta: LogMeta) throws {
        try environment.read { txn in
            guard let last = try txn.last(environment.events) else {
                if let head = meta.head {
                    throw LogError.damagedTail(sequence: head.sequence, reason: "the committed head is record \(head.sequence) but the log holds no record")
                }
                return
            }
            guard let sequence = sequence(fromKey: last.key) else {
                throw LogError.damagedTail(sequence: 0, reason: "the last key is \(last.key.count) bytes, not 8")
            }
            guard let head = meta.head else {
                throw LogError.damagedTail(sequence: sequence, reason: "records exist but no head is committed")
            }
            guard sequence == head.sequence else {
                throw LogError.damagedTail(sequence: min(sequence, head.sequence),
                    reason: "the last record is \(sequence) but the committed head is \(head.sequence)")
            }
            var walk = ChainWalk(from: sequence > 1 ? sequence - 1 : 1, logID: meta.logID, crypto: RecordCrypto())
            try txn.forEach(environment.events, from: sequenceKey(walk.expected)) { key, value in
                let step = walk.step(key: key, value: value)
                if let finding = step.findings.first {
                    let (sequence, reason) = finding.blame(at: step.sequence)
                    throw LogError.damagedTail(sequence: sequence, reason: reason)
                }
                return true
            }
            guard walk.end(at: head) == .atHead else {
                throw LogError.damagedTail(sequence: sequence, reason: "its chain link differs from the committed head's")
            }
        }
    }
}
