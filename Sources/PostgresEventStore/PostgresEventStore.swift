import EventLog
import Foundation
import PostgresNIO
import Synchronization

/// The event log in PostgreSQL: the same records, byte for byte, the same chain, head and key
/// table as the embedded `EventLog`, in tables several Nexus replicas share (docs/adr/0015).
/// Appends group-commit through the same writer; a writer that finds the head moved (another
/// replica appended) seals its batch again after the stored head. New records from any writer
/// reach `tail` through `LISTEN spike_log`, and a read of the head every `followInterval` in
/// any case, so a lost notification only delays.
public final class PostgresEventStore: EventStore {
    public struct Options: Sendable {
        public var segmentMaxRecords: UInt64 = 1_000_000
        public var segmentMaxAge: Duration = .seconds(24 * 3600)
        public var maxBatchEvents: Int = 16_384
        public var maxEventSize: Int = 16 << 20
        public var readOnly = false
        /// How often the head is read when no notification came.
        public var followInterval: Duration = .seconds(1)
        /// The id a log created by this open gets (see `EventLog.Options`).
        package var newLogID: LogID?

        public init() {}
    }

    public let url: PostgresURL
    package let core: LogCore
    private let storage: PostgresRecordStorage
    private let follower: Follower
    /// The session that holds the turns' lock (`inTurn`); a turn not had within its
    /// `lock_timeout` is gone without (a replica stalled in its turn does not stop the others).
    private let turns: PostgresSession

    public var logID: LogID { core.logID }
    public var isShared: Bool { true }
    public var location: String { url.description }

    private init(url: PostgresURL, storage: PostgresRecordStorage, core: LogCore, follower: Follower) {
        self.url = url
        self.storage = storage
        self.core = core
        self.follower = follower
        turns = PostgresSession(url: url, settings: [("lock_timeout", "2000")])
    }

    deinit { follower.stop() }

    /// Replicas decide and append one at a time: a session-level advisory lock, which the server
    /// grants in the order asked, so a replica that keeps appending cannot starve another into
    /// deciding again forever. Without the lock in time (another replica stalled in its turn), or
    /// with a dropped lock session, `body` runs all the same: the expected head keeps the log
    /// right, turns only keep it fair.
    public func inTurn<T>(_ body: () async throws -> T) async throws -> T {
        do {
            try await turns.waitingQuery("SELECT pg_advisory_lock(\(PostgresSchema.turnLock))")
        } catch {
            return try await body()
        }
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        do {
            try await turns.waitingQuery("SELECT pg_advisory_unlock(\(PostgresSchema.turnLock))")
        } catch {
            // A turn not given back would keep the others waiting out their lock_timeout: its
            // connection goes, and the server releases what it held; the next turn connects anew.
            turns.close()
        }
        return try result.get()
    }

    /// Connects, applies the schema's migrations (a writable open) or checks them (read-only),
    /// creates the log if the database holds none, and checks the end of the log as the
    /// embedded store does: a writable open refuses a log whose last record is not its head.
    public static func open(url: PostgresURL, options: Options = .init()) throws(LogError) -> PostgresEventStore {
        let storage = PostgresRecordStorage(url: url)
        do {
            let logID = try options.readOnly ? PostgresSchema.check(storage.reads) : PostgresSchema.migrate(storage.reads, newLogID: options.newLogID)
            if !options.readOnly { try LogCore.checkTail(storage, logID: logID) }
            let head = try storage.read { try $0.committedHead() }
            let core = LogCore(
                storage: storage, logID: logID, head: head,
                limits: options.readOnly ? nil : .init(
                    segmentMaxRecords: options.segmentMaxRecords, segmentMaxAge: options.segmentMaxAge,
                    maxBatchEvents: options.maxBatchEvents, maxEventSize: options.maxEventSize))
            let follower = Follower(url: url, core: core, interval: options.followInterval)
            return PostgresEventStore(url: url, storage: storage, core: core, follower: follower)
        } catch {
            storage.close()
            throw storage.writeFailure(error)
        }
    }

    public func setRecipients(_ recipients: [LogRecipient], epoch: UInt32) { core.setRecipients(recipients, epoch: epoch) }
    public var writerExecutor: (any TaskExecutor)? { core.writerExecutor }

    @discardableResult
    public func append(_ events: [NewEvent], keyChanges: KeyTableChanges, expectedHead: UInt64?) async throws -> ClosedRange<UInt64> {
        try await core.append(events, keyChanges: keyChanges, expectedHead: expectedHead).range
    }

    public func append(_ events: [NewEvent], keyChanges: KeyTableChanges, after position: ChainHead) async throws -> ChainHead {
        try await core.append(events, keyChanges: keyChanges, expectedHead: position.sequence).head
    }

    public func head() throws -> ChainHead? { try core.head() }
    public func link(at sequence: UInt64) throws -> ChainHash? { try core.link(at: sequence) }
    public func keyTable() throws -> [[UInt8]: [UInt8]] { try core.keyTable() }
    public func keyTable(ids: [[UInt8]]) throws -> [[UInt8]: [UInt8]] { try core.keyTable(ids: ids) }
    public func waitForHead(beyond sequence: UInt64) async -> UInt64? { await core.waitForHead(beyond: sequence) }

    public func replay(after position: ChainHead, keyring: LogKeyring, _ body: (EventView) throws -> Void) throws -> ChainHead {
        try core.replay(after: position, keyring: keyring, body)
    }
    public func reader(keyring: LogKeyring) -> LogReader { core.reader(keyring: keyring) }

    public func replay(from start: UInt64, through end: UInt64?, keyring: LogKeyring, _ body: (EventView) throws -> Void) throws -> UInt64 {
        try core.replay(from: start, through: end, keyring: keyring, body)
    }

    public func tail(from start: UInt64, keyring: LogKeyring) -> AsyncThrowingStream<EventRecord, any Error> {
        core.tail(from: start, keyring: keyring)
    }

    public func verify(keyring: LogKeyring? = nil) -> VerificationReport { core.verify(keyring: keyring) }

    @discardableResult
    public func walkHeaders(from start: UInt64 = 1, through end: UInt64? = nil, _ body: (RecordHeader) throws -> Void) throws -> UInt64 {
        try core.walkHeaders(from: start, through: end, body)
    }

    public func rawRecord(at sequence: UInt64) throws -> [UInt8] { try core.rawRecord(at: sequence) }

    public var statistics: LogStatistics { core.statistics }

    public func latestSnapshot() throws -> StoredSnapshot? {
        let rows = try storage.reads.query("SELECT sequence, snapshot FROM spike.snapshots ORDER BY sequence DESC LIMIT 1")
        guard let row = rows.first else { return nil }
        let (sequence, bytes) = try row.decode((Int64, ByteBuffer).self)
        return StoredSnapshot(sequence: UInt64(sequence), bytes: Array(bytes.readableBytesView))
    }

    /// One statement (atomic on its own): replicas storing theirs at once each keep the newer.
    public func storeSnapshot(_ bytes: [UInt8], sequence: UInt64) throws {
        let at = Int64(sequence)
        try storage.reads.query("""
            WITH dropped AS (DELETE FROM spike.snapshots WHERE sequence < \(at))
            INSERT INTO spike.snapshots (sequence, snapshot) VALUES (\(at), \(ByteBuffer(bytes: bytes)))
            ON CONFLICT (sequence) DO NOTHING
            """)
    }

    public func deleteSnapshots() throws {
        try storage.reads.query("DELETE FROM spike.snapshots")
    }

    public var storedBytes: Int64 { (try? storage.storedBytes()) ?? 0 }

    /// The highest head this process has seen committed, by itself or by another writer.
    public var followedHead: UInt64 { core.knownHead }

    public func close() {
        core.close()
        follower.stop()
        turns.close()
        storage.close()
    }

    /// Publishes heads that other writers committed: woken by `NOTIFY spike_log`, and every
    /// `interval` in any case. Its own thread: every PostgreSQL call here blocks.
    final class Follower: Sendable {
        private let session: PostgresSession
        private let listener: PostgresSession
        private let wake = DispatchSemaphore(value: 0)
        private let stopped = Atomic<Bool>(false)
        private let finished = DispatchSemaphore(value: 0)

        init(url: PostgresURL, core: LogCore, interval: Duration) {
            session = PostgresSession(url: url)
            listener = PostgresSession(url: url)
            let thread = Thread { [self] in run(core: core, interval: interval) }
            thread.name = "spike-pg-follower"
            thread.start()
        }

        private func run(core: LogCore, interval: Duration) {
            var listening: PostgresConnection?
            let wait = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
            while !stopped.load(ordering: .acquiring) {
                if listening?.isClosed ?? true {
                    listening = try? listener.listen(channel: "spike_log") { [wake] in wake.signal() }
                }
                if let rows = try? session.query("SELECT value FROM spike.meta WHERE name = 'head'"),
                   let value = try? rows.first?.decode(ByteBuffer.self),
                   let head = try? value.withUnsafeReadableBytes({ try LogMeta.decodeHead($0) }),
                   head.sequence > core.knownHead {
                    core.publish(head: head.sequence)
                }
                _ = wake.wait(timeout: .now() + wait)
            }
            listener.close()
            session.close()
            finished.signal()
        }

        func stop() {
            guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
            wake.signal()
            finished.wait()
        }
    }
}
