import Foundation
import Synchronization

/// What every event store does, whatever keeps its records: appends through the group-committing
/// writer, the head and its waiters, replays, tails and verification, all over one
/// `RecordStorage`. `EventLog` (LMDB) and `PostgresEventStore` wrap one each and add what is
/// their own (opening, locking, backups, following other writers).
package final class LogCore: Sendable {
    package struct Limits: Sendable {
        package var segmentMaxRecords: UInt64
        package var segmentMaxAge: Duration
        package var maxBatchEvents: Int
        package var maxEventSize: Int

        package init(segmentMaxRecords: UInt64, segmentMaxAge: Duration, maxBatchEvents: Int, maxEventSize: Int) {
            self.segmentMaxRecords = segmentMaxRecords
            self.segmentMaxAge = segmentMaxAge
            self.maxBatchEvents = maxBatchEvents
            self.maxEventSize = maxEventSize
        }
    }

    package let logID: LogID
    package let storage: any RecordStorage
    let notifier: HeadNotifier
    private let writer: LogWriter?
    private let maxEventSize: Int

    /// `head` is the committed head at open; without `limits` the log is read-only.
    package init(storage: any RecordStorage, logID: LogID, head: ChainHead?, limits: Limits?) {
        self.storage = storage
        self.logID = logID
        let notifier = HeadNotifier(head: head?.sequence ?? 0)
        self.notifier = notifier
        maxEventSize = limits?.maxEventSize ?? 0
        writer = limits.map {
            LogWriter(storage: storage, logID: logID,
                      options: .init(segmentMaxRecords: $0.segmentMaxRecords, segmentMaxAge: $0.segmentMaxAge,
                                     maxBatchEvents: $0.maxBatchEvents),
                      onCommit: { notifier.publish(head: $0.sequence) })
        }
    }

    deinit {
        writer?.stop()
        notifier.close()
    }

    package var isWritable: Bool { writer != nil }

    package var writerExecutor: (any TaskExecutor)? { writer }

    package func setRecipients(_ recipients: [LogRecipient], epoch: UInt32) {
        writer?.setRecipients(recipients, epoch: epoch)
    }

    package func append(_ events: [NewEvent], keyChanges: KeyTableChanges, expectedHead: UInt64?) async throws -> Appended {
        guard let writer else { throw LogError.readOnly }
        guard !events.isEmpty else { throw LogError.noEvents }
        for event in events where event.body.count > maxEventSize {
            throw LogError.eventTooLarge(size: event.body.count, limit: maxEventSize)
        }
        try keyChanges.validate()
        return try await writer.append(events, keyChanges: keyChanges, expectedHead: expectedHead)
    }

    /// Tells tail readers that records through `sequence` are stored (a writer elsewhere
    /// committed them).
    package func publish(head sequence: UInt64) { notifier.publish(head: sequence) }

    /// The highest head this process has seen committed.
    package var knownHead: UInt64 { notifier.head }

    package func head() throws -> ChainHead? {
        try storage.read { try $0.committedHead() }
    }

    package func keyTable() throws -> [[UInt8]: [UInt8]] {
        try storage.read { try $0.keyTable() }
    }

    package func keyTable(ids: [[UInt8]]) throws -> [[UInt8]: [UInt8]] {
        try storage.read { try $0.keyTable(ids: ids) }
    }

    /// Returns the head this process knows once it is beyond `sequence`; nil once the log closed.
    package func waitForHead(beyond sequence: UInt64) async -> UInt64? {
        await notifier.wait(beyond: sequence)
        return notifier.isClosed ? nil : notifier.head
    }

    package func link(at sequence: UInt64) throws -> ChainHash? {
        try storage.read { view in
            guard sequence > 0, let record = try view.record(at: sequence) else { return nil }
            let header = try RecordHeader.decode(record: record)
            let crypto = RecordCrypto()
            return crypto.link(header.previousHash, crypto.contentHash(record))
        }
    }

    package func rawRecord(at sequence: UInt64) throws -> [UInt8] {
        try storage.read { view in
            guard let record = try view.record(at: sequence) else { throw LogError.recordNotFound(sequence: sequence) }
            return Array(record)
        }
    }

    package func reader(keyring: LogKeyring) -> LogReader { LogReader(core: self, keyring: keyring) }

    package func verify(keyring: LogKeyring?) -> VerificationReport {
        LogVerifier(storage: storage, logID: logID, keyring: keyring).run()
    }

    package func replay(from start: UInt64, through end: UInt64?, keyring: LogKeyring, _ body: (EventView) throws -> Void) throws -> UInt64 {
        try reader(keyring: keyring).replay(from: start, through: end, body)
    }

    package func replay(after position: ChainHead, keyring: LogKeyring, _ body: (EventView) throws -> Void) throws -> ChainHead {
        try reader(keyring: keyring).replay(after: position, body)
    }

    package func walkHeaders(from start: UInt64, through end: UInt64?, _ body: (RecordHeader) throws -> Void) throws -> UInt64 {
        try reader(keyring: LogKeyring([])).replayHeaders(from: start, through: end, body)
    }

    package func tail(from start: UInt64, keyring: LogKeyring) -> AsyncThrowingStream<EventRecord, any Error> {
        let iterator = TailIterator(reader(keyring: keyring).tail(from: start).makeAsyncIterator())
        return AsyncThrowingStream(unfolding: { try await iterator.next() })
    }

    /// The tail's iterator, moved into the stream's closure: the stream calls it one element
    /// at a time (it has one consumer), so it is never used from two tasks at once.
    private final class TailIterator: @unchecked Sendable {
        private var iterator: LogTail.Iterator

        init(_ iterator: LogTail.Iterator) { self.iterator = iterator }

        func next() async throws -> EventRecord? { try await iterator.next() }
    }

    package var statistics: LogStatistics { writer?.statistics.withLock { $0 } ?? LogStatistics() }

    /// Writes what is queued, then stops accepting appends; tails end.
    package func close() {
        writer?.stop()
        notifier.close()
    }

    /// Checks that the last stored record is the committed head and that it links to the one
    /// before (the walk over the last two records; replays check the rest of the chain). A
    /// writable open refuses a log that fails it: nothing is ever truncated to make it fit.
    package static func checkTail(_ storage: any RecordStorage, logID: LogID) throws {
        try storage.read { view in
            let head = try view.committedHead()
            guard let sequence = try view.lastStoredSequence() else {
                if let head {
                    throw LogError.damagedTail(sequence: head.sequence, reason: "the committed head is record \(head.sequence) but the log holds no record")
                }
                return
            }
            guard let head else {
                throw LogError.damagedTail(sequence: sequence, reason: "records exist but no head is committed")
            }
            guard sequence == head.sequence else {
                throw LogError.damagedTail(sequence: min(sequence, head.sequence),
                    reason: "the last record is \(sequence) but the committed head is \(head.sequence)")
            }
            var walk = ChainWalk(from: sequence > 1 ? sequence - 1 : 1, logID: logID, crypto: RecordCrypto())
            try view.forEachRecord(from: walk.expected, through: sequence) { key, value in
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
