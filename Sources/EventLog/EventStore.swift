/// What the Nexus, its data store and the log tools need of an event log, whichever database
/// keeps it (DESIGN §3, §7): the same records, chain and key table behind one seam. `EventLog`
/// (LMDB, one process writes) is the first implementation; a PostgreSQL one, for several Nexus
/// replicas, builds on the optimistic head check of `append`.
public protocol EventStore: AnyObject, Sendable {
    var logID: LogID { get }

    /// Where the log is, for messages: a directory, or a URL without its password.
    var location: String { get }

    /// Whether other processes may append to this log (PostgreSQL, which several Nexus replicas
    /// write): a reader of it follows their records. An LMDB log has one writing process.
    var isShared: Bool { get }

    /// The last committed record, or nil for an empty log.
    func head() throws -> ChainHead?

    /// The chain link of record `sequence`, or nil when the log does not reach it.
    func link(at sequence: UInt64) throws -> ChainHash?

    /// The keys new segment keys are sealed to, and the epoch of new records.
    func setRecipients(_ recipients: [LogRecipient], epoch: UInt32)

    /// Appends `events` contiguously in one transaction with `keyChanges`, durable when it
    /// returns. With `expectedHead`, only if the last record is still that sequence
    /// (`LogError.headMoved` otherwise: nothing is written, and the caller decides again).
    func append(_ events: [NewEvent], keyChanges: KeyTableChanges, expectedHead: UInt64?) async throws -> ClosedRange<UInt64>

    /// Appends `events` with `keyChanges` right after `position` (its sequence is the expected
    /// head: `LogError.headMoved` if another writer appended since, nothing written); returns the
    /// chain head after them once durable. How a Nexus that follows the log appends: what it
    /// decided holds on the log it has folded, and it knows the link its next fold continues from.
    func append(_ events: [NewEvent], keyChanges: KeyTableChanges, after position: ChainHead) async throws -> ChainHead

    /// The key table (ids to values) as of the last commit.
    func keyTable() throws -> [[UInt8]: [UInt8]]

    /// The entries of `ids` that the key table holds.
    func keyTable(ids: [[UInt8]]) throws -> [[UInt8]: [UInt8]]

    /// Calls `body` with every event after `position` through the committed head, checking that
    /// they continue the chain from `position` (a log rewritten or cut back under the caller is
    /// refused); returns the head it read to. How a Nexus folds what others appended.
    func replay(after position: ChainHead, keyring: LogKeyring, _ body: (EventView) throws -> Void) throws -> ChainHead

    /// Runs `body` (decide, then append) in this writer's turn: on a shared log the writers that
    /// take turns decide and append one at a time, in the order they asked, so none is starved
    /// by another that keeps appending first. An LMDB log has one writer: `body` runs at once.
    func inTurn<T>(_ body: () async throws -> T) async throws -> T

    /// The thread that commits this process' appends, as an executor (nil when read-only). A task
    /// that decides, appends and answers in a loop runs there: its appends are committed on that
    /// thread as it makes them, with no hand-off to the writer and back (ADR-0027). It must not
    /// wait there for anything but its own appends and the storage.
    var writerExecutor: (any TaskExecutor)? { get }

    /// Returns the head this process knows of (its own commits, and for a shared log another
    /// writer's as followed) once it is beyond `sequence` (or the waiting task was cancelled);
    /// nil once the store is closed.
    func waitForHead(beyond sequence: UInt64) async -> UInt64?

    /// Calls `body` with every event from `start` through `end` (nil: the head when the call
    /// began), decrypted with `keyring`, checking the chain; returns how many it delivered.
    func replay(from start: UInt64, through end: UInt64?, keyring: LogKeyring, _ body: (EventView) throws -> Void) throws -> UInt64

    /// A reader that opens segment keys with `keyring` (chunked replays for the log tools).
    func reader(keyring: LogKeyring) -> LogReader

    /// The clear header of every record (segment records included), chain checked, nothing
    /// opened: what a tool without a key can see. Returns the records seen.
    @discardableResult
    func walkHeaders(from start: UInt64, through end: UInt64?, _ body: (RecordHeader) throws -> Void) throws -> UInt64

    /// The stored bytes of a record (header and still-encrypted body).
    func rawRecord(at sequence: UInt64) throws -> [UInt8]

    /// Every event from `start` on, then each new one as it is committed, until the store is
    /// closed or the consumer stops (pull-based: a slow consumer holds reading back).
    func tail(from start: UInt64, keyring: LogKeyring) -> AsyncThrowingStream<EventRecord, any Error>

    /// Walks the whole log; with a keyring, also opens every segment key and body.
    func verify(keyring: LogKeyring?) -> VerificationReport

    /// The newest snapshot kept beside the log (derived data, DESIGN §3), or nil.
    func latestSnapshot() throws -> StoredSnapshot?

    /// Keeps `bytes` as the snapshot through record `sequence` and drops older ones; durable
    /// when it returns. Never touches the records or the key table.
    func storeSnapshot(_ bytes: [UInt8], sequence: UInt64) throws

    /// Drops every snapshot: the next start folds the whole log, and loses nothing.
    func deleteSnapshots() throws

    /// What this process committed since it opened the store.
    var statistics: LogStatistics { get }

    /// The bytes the log takes in its database.
    var storedBytes: Int64 { get }

    /// Writes what is queued, then stops accepting appends. Reads keep working.
    func close()
}

/// A snapshot's stored bytes and the last record it stands for (`ProjectionSnapshot` reads them).
public struct StoredSnapshot: Sendable, Equatable {
    public var sequence: UInt64
    public var bytes: [UInt8]

    public init(sequence: UInt64, bytes: [UInt8]) {
        self.sequence = sequence
        self.bytes = bytes
    }
}

extension EventStore {
    /// Appends one event; returns its sequence once it is durable.
    @discardableResult
    public func append(kind: UInt16, body: [UInt8]) async throws -> UInt64 {
        try await append([NewEvent(kind: kind, body: body)], keyChanges: KeyTableChanges(), expectedHead: nil).lowerBound
    }

    @discardableResult
    public func append(_ events: [NewEvent], keyChanges: KeyTableChanges = KeyTableChanges()) async throws -> ClosedRange<UInt64> {
        try await append(events, keyChanges: keyChanges, expectedHead: nil)
    }

    @discardableResult
    public func walkHeaders(_ body: (RecordHeader) throws -> Void) throws -> UInt64 {
        try walkHeaders(from: 1, through: nil, body)
    }
}
