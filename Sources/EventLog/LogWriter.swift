import Crypto
import Foundation
import Synchronization

/// An event to append: the domain's kind and the plaintext body (encrypted before it is stored).
/// With an `authenticationKey` it is written as an authenticated event record: the body is
/// followed by an `EventAuthenticator` tag under that key.
public struct NewEvent: Sendable {
    public var kind: UInt16
    public var body: [UInt8]
    public var authenticationKey: SymmetricKey?

    public init(kind: UInt16, body: [UInt8], authenticationKey: SymmetricKey? = nil) {
        self.kind = kind
        self.body = body
        self.authenticationKey = authenticationKey
    }

    /// The plaintext stored in the record: the body, and the tag when authenticated.
    var plaintextCount: Int { body.count + (authenticationKey == nil ? 0 : EventAuthenticator.size) }
}

/// What an append became: its records' sequences, and the chain head right after its last.
package struct Appended: Sendable {
    package var range: ClosedRange<UInt64>
    package var head: ChainHead
}

/// Counters of what the writer committed since the log was opened.
public struct LogStatistics: Sendable, Equatable {
    /// Write transactions committed (one fsync each).
    public var transactions: UInt64 = 0
    /// `append` calls answered by those transactions.
    public var appendCalls: UInt64 = 0
    /// Event records written (segment records not counted).
    public var events: UInt64 = 0
}

/// The one thread that writes the log. Appenders queue their events and wait; the thread takes
/// everything queued, writes it in one transaction of its storage (one fsync) and then answers
/// them all: group commit. LMDB's write transactions are bound to a thread, and every storage's
/// writes block, so they live here and never on an event loop or in the cooperative pool.
///
/// The thread is also a `TaskExecutor` (ADR-0027): a task that prefers it runs between two
/// batches, and its appends are committed right there, on this thread, without waiting for a
/// wake-up, so a loop that decides, appends and answers (the Nexus' data store) pays no hand-off
/// per commit.
final class LogWriter: TaskExecutor, @unchecked Sendable {
    struct Options {
        var segmentMaxRecords: UInt64
        var segmentMaxAge: Duration
        var maxBatchEvents: Int
    }

    private struct PendingAppend {
        var events: [NewEvent]
        var keyChanges: KeyTableChanges
        /// The head the appender decided on: the append goes through only right after it.
        var expectedHead: UInt64?
        /// Called once, on the writer thread, when the append is durable or refused.
        var complete: (Result<Appended, any Error>) -> Void
    }

    /// The segment whose key encrypts new events. Writer-thread state only.
    private struct OpenSegment: Sendable {
        var sequence: UInt64
        var epoch: UInt32
        var key: SymmetricKey
        var nonces: NonceSequence
        var records: UInt64
        var openedAt: ContinuousClock.Instant
        /// Whether its segment record is stored (false until the batch that opened it commits).
        var isStored = false
    }

    private let storage: any RecordStorage
    private let logID: LogID
    private let options: Options
    private let onCommit: @Sendable (ChainHead) -> Void

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [PendingAppend] = []
    private var stopping = false
    private var recipients: [LogRecipient] = []
    private var epoch: UInt32 = 0
    private var recipientsChanged = false
    /// Tasks' jobs waiting for the thread (`enqueue`), run when no batch is prepared ahead.
    private var jobs: [UnownedJob] = []
    /// The thread has ended: jobs enqueued now run elsewhere.
    private var ended = false
    private let finished = DispatchSemaphore(value: 0)
    /// The writer thread's id (`pthread_self`), once it runs.
    private let threadID = Atomic<UInt>(0)

    // Writer thread only.
    private var segment: OpenSegment?
    private let crypto = RecordCrypto()
    /// The head this writer last committed; nil until known (read from `meta`).
    private var committedHead: ChainHead?

    /// Transactions committed so far (each one fsync); with `appendCalls`, shows group commit.
    let statistics = Mutex(LogStatistics())

    init(storage: any RecordStorage, logID: LogID, options: Options, onCommit: @escaping @Sendable (ChainHead) -> Void) {
        self.storage = storage
        self.logID = logID
        self.options = options
        self.onCommit = onCommit
        let thread = Thread { [self] in run() }
        thread.name = "spike-log-writer"
        thread.start()
    }

    func setRecipients(_ recipients: [LogRecipient], epoch: UInt32) {
        condition.lock()
        self.recipients = recipients
        self.epoch = epoch
        recipientsChanged = true
        condition.unlock()
    }

    func append(_ events: [NewEvent], keyChanges: KeyTableChanges, expectedHead: UInt64?) async throws -> Appended {
        if isWriterThread { return try appendHere(events, keyChanges: keyChanges, expectedHead: expectedHead) }
        return try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            if stopping {
                continuation.resume(throwing: LogError.closed)
                return
            }
            queue.append(PendingAppend(events: events, keyChanges: keyChanges, expectedHead: expectedHead,
                                       complete: { continuation.resume(with: $0) }))
            condition.signal()
        }
    }

    private var isWriterThread: Bool { threadID.load(ordering: .relaxed) == UInt(pthread_self()) }

    /// The result of an append committed on the writer thread itself (read and written there only).
    private final class AppendedHere {
        var result: Result<Appended, any Error>?
    }

    /// An append by a task running on the writer thread (between two batches: nothing is prepared
    /// ahead): queued behind what others queued, and committed now, with them, on this thread.
    private func appendHere(_ events: [NewEvent], keyChanges: KeyTableChanges, expectedHead: UInt64?) throws -> Appended {
        let here = AppendedHere()
        condition.lock()
        if stopping {
            condition.unlock()
            throw LogError.closed
        }
        queue.append(PendingAppend(events: events, keyChanges: keyChanges, expectedHead: expectedHead, complete: { here.result = $0 }))
        condition.unlock()
        while here.result == nil, let (batch, recipients, epoch) = takeBatch() {
            commitAlone(prepare(batch, recipients: recipients, epoch: epoch, after: nil))
        }
        // Queued, so taken by the loop above, and every prepared batch is answered.
        return try here.result!.get()
    }

    /// Stops taking appends, writes what is queued, and returns when the thread has ended (at
    /// once when called on the thread: it ends after the job that called).
    func stop() {
        condition.lock()
        let wasStopping = stopping
        stopping = true
        condition.signal()
        condition.unlock()
        if !wasStopping && !isWriterThread { finished.wait() }
    }

    // MARK: - TaskExecutor

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        defer { condition.unlock() }
        guard !ended else {
            // Its appends are refused (`LogError.closed`); the rest of it runs as anywhere else.
            DispatchQueue.global().async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
            return
        }
        jobs.append(job)
        condition.signal()
    }

    /// A batch made ready for its transaction: sequences assigned, bodies being sealed.
    private struct PreparedBatch {
        var batch: [PendingAppend]
        var recipients: [LogRecipient]
        var epoch: UInt32
        /// The sequence of its first record; the record before it must be the stored head.
        var firstSequence: UInt64
        var ranges: [ClosedRange<UInt64>]
        var chunks: [BackgroundResult<SealedChunk>]
        var eventCount: Int
        var lastSequence: UInt64 { ranges.last!.upperBound }
    }

    /// What the thread does next.
    private enum Work {
        case jobs([UnownedJob])
        case batch([PendingAppend], [LogRecipient], UInt32)
        case end
    }

    private func run() {
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        // The kernel's name too (Foundation keeps its own; a new thread inherits its creator's):
        // what `top -H` and `perf` show, at most 15 bytes.
        try? "spike-log-write".write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
        // While one batch commits (its fsync leaves the cores idle), the next queued batch is
        // already being sealed, on the assumption that the commit succeeds.
        var ahead: PreparedBatch?
        while true {
            let current: PreparedBatch
            if let next = ahead {
                current = next
                ahead = nil
            } else {
                switch nextWork() {
                case .jobs(let jobs):
                    // Nothing is prepared ahead here: a job's appends are committed in turn.
                    for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
                    continue
                case .batch(let batch, let recipients, let epoch):
                    guard let prepared = prepare(batch, recipients: recipients, epoch: epoch, after: nil) else { continue }
                    current = prepared
                case .end:
                    // A thread that starts later may get the same id.
                    threadID.store(0, ordering: .relaxed)
                    finished.signal()
                    return
                }
            }
            // Look for the next batch now and again just before the fsync, by when a producer
            // that waited for the previous append has usually queued its next one; not while a
            // job waits (it runs once nothing is prepared ahead).
            let lookAhead = {
                if ahead == nil, let (batch, recipients, epoch) = self.takeBatch(whileNoJobWaits: true) {
                    ahead = self.prepare(batch, recipients: recipients, epoch: epoch, after: current.lastSequence)
                }
            }
            lookAhead()
            switch commit(current, beforeSync: lookAhead) {
            case .committed:
                break
            case .failed:
                if let stale = ahead {
                    // It assumed the failed batch's sequences: prepare it again from the stored head.
                    ahead = prepare(stale.batch, recipients: stale.recipients, epoch: stale.epoch, after: nil)
                }
            case .headMoved:
                // Another writer of a shared storage appended first: decide this batch again on
                // the stored head (its expected heads checked anew, sequences assigned anew), and
                // put the batch prepared behind it back at the front of the queue.
                if let stale = ahead {
                    condition.lock()
                    queue.insert(contentsOf: stale.batch, at: 0)
                    condition.unlock()
                }
                ahead = prepare(current.batch, recipients: current.recipients, epoch: current.epoch, after: nil)
            }
        }
    }

    /// Commits `prepared` with nothing prepared behind it, prepared again while another writer of
    /// a shared storage moved the head.
    private func commitAlone(_ prepared: PreparedBatch?) {
        var current = prepared
        while let batch = current {
            switch commit(batch, beforeSync: {}) {
            case .committed, .failed: current = nil
            case .headMoved: current = prepare(batch.batch, recipients: batch.recipients, epoch: batch.epoch, after: nil)
            }
        }
    }

    /// Waits for jobs or appends (jobs first); `.end` once stopping with neither left.
    private func nextWork() -> Work {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && jobs.isEmpty && !stopping { condition.wait() }
        if !jobs.isEmpty {
            defer { jobs.removeAll() }
            return .jobs(jobs)
        }
        guard let (batch, recipients, epoch) = takeBatchLocked() else {
            ended = true
            return .end
        }
        return .batch(batch, recipients, epoch)
    }

    /// The queued appends that fit one transaction, if any (none when `whileNoJobWaits` and a job waits).
    private func takeBatch(whileNoJobWaits: Bool = false) -> ([PendingAppend], [LogRecipient], UInt32)? {
        condition.lock()
        defer { condition.unlock() }
        if whileNoJobWaits && !jobs.isEmpty { return nil }
        return takeBatchLocked()
    }

    private func takeBatchLocked() -> ([PendingAppend], [LogRecipient], UInt32)? {
        guard !queue.isEmpty else { return nil }
        var batch: [PendingAppend] = []
        var count = 0
        while let next = queue.first, batch.isEmpty || count + next.events.count <= options.maxBatchEvents {
            batch.append(queue.removeFirst())
            count += next.events.count
        }
        if recipientsChanged {
            segment = nil
            recipientsChanged = false
        }
        return (batch, recipients, epoch)
    }

    /// Assigns sequences after `lastSequence` (nil: after the stored head), opens a segment if
    /// one is due, and starts sealing. Answers the appenders and returns nil if it cannot.
    private func prepare(_ queued: [PendingAppend], recipients: [LogRecipient], epoch: UInt32, after lastSequence: UInt64?) -> PreparedBatch? {
        let now = ContinuousClock.now
        if let open = segment,
           open.records >= options.segmentMaxRecords || open.openedAt.duration(to: now) >= options.segmentMaxAge {
            segment = nil
        }
        if segment == nil && recipients.isEmpty {
            for pending in queued { pending.complete(.failure(LogError.noRecipients)) }
            return nil
        }
        var batch: [PendingAppend] = []
        do {
            // An appender that saw a newer head than this writer knows (another writer of a
            // shared storage appended) makes the writer read the stored head again.
            if lastSequence == nil, let known = committedHead,
               queued.contains(where: { ($0.expectedHead ?? 0) > known.sequence }) {
                committedHead = nil
            }
            let first = try lastSequence.map { $0 + 1 }
                ?? (committedHead ?? storage.read { try $0.committedHead() } ?? .empty(logID)).sequence + 1
            // The optimistic check: an append that expected another head is refused, alone.
            var headBefore = first - 1
            for pending in queued {
                if let expected = pending.expectedHead, expected != headBefore {
                    pending.complete(.failure(LogError.headMoved(expected: expected, found: headBefore)))
                    continue
                }
                headBefore += UInt64(pending.events.count) + (batch.isEmpty && segment == nil ? 1 : 0)
                batch.append(pending)
            }
            guard !batch.isEmpty else { return nil }
            let time = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
            var next = first
            var chunks: [BackgroundResult<SealedChunk>] = []
            var current: OpenSegment
            if let open = segment {
                current = open
            } else {
                let key = SymmetricKey(size: .bits256)
                let envelope = try SegmentEnvelope.seal(key, to: recipients, logID: logID, segment: next).encoded()
                let header = RecordHeader(
                    type: .segment, kind: 0, epoch: epoch, sequence: next, time: time,
                    segment: next, previousHash: .zero, bodyLength: UInt32(envelope.count))
                var record = [UInt8](repeating: 0, count: RecordHeader.size)
                record.withUnsafeMutableBytes { header.encode(into: $0) }
                record += envelope
                let content = record.withUnsafeBytes { crypto.contentHash($0) }
                chunks.append(BackgroundResult(computingNow: { SealedChunk(bytes: record, sizes: [record.count], contents: [content]) }))
                current = OpenSegment(sequence: next, epoch: epoch, key: key, nonces: NonceSequence(), records: 0, openedAt: now)
                next += 1
            }
            var ranges: [ClosedRange<UInt64>] = []
            for pending in batch {
                ranges.append(next...(next + UInt64(pending.events.count) - 1))
                next += UInt64(pending.events.count)
            }
            let events = batch.flatMap(\.events)
            chunks += sealEvents(events, firstSequence: ranges[0].lowerBound, segment: current, time: time)
            current.records += UInt64(events.count)
            // Tentative until the commit: a failed commit clears it.
            segment = current
            return PreparedBatch(batch: batch, recipients: recipients, epoch: epoch, firstSequence: first,
                                 ranges: ranges, chunks: chunks, eventCount: events.count)
        } catch {
            // Before the check nothing was answered; after it, only the refused appends were.
            fail(batch.isEmpty ? queued : batch, error)
            return nil
        }
    }

    private enum CommitOutcome {
        case committed
        /// Nothing was written and the appenders were answered with the error.
        case failed
        /// Nothing was written: the stored head is not the one the batch was sealed after.
        case headMoved
    }

    /// The stored head differs from the one a batch was prepared after.
    private struct StoredHeadMoved: Error {
        var stored: ChainHead?
    }

    /// Links, hashes and writes a prepared batch in one transaction, then answers its appenders.
    /// `beforeSync` runs once, inside the transaction, just before it commits.
    private func commit(_ prepared: PreparedBatch, beforeSync: () -> Void) -> CommitOutcome {
        var synced = false
        do {
            let committed = try storage.write { txn -> (ChainHead, [ChainHead]) in
                let stored = try txn.committedHead() ?? .empty(logID)
                guard stored.sequence + 1 == prepared.firstSequence, committedHead.map({ $0 == stored }) ?? true else {
                    throw StoredHeadMoved(stored: stored)
                }
                var head = stored
                var heads: [ChainHead] = []
                heads.reserveCapacity(prepared.ranges.count)
                // Chunks still being sealed are awaited in order: linking overlaps sealing.
                for pending in prepared.chunks {
                    let chunk = try pending.value()
                    try chunk.bytes.withUnsafeBytes { all in
                        var offset = 0
                        for (size, content) in zip(chunk.sizes, chunk.contents) {
                            let sequence = head.sequence + 1
                            let record = try txn.reserveRecord(sequence: sequence, count: size)
                            record.copyMemory(from: UnsafeRawBufferPointer(rebasing: all[offset..<(offset + size)]))
                            head.hash.write(to: record, at: RecordHeader.previousHashOffset)
                            head = ChainHead(sequence: sequence, hash: crypto.link(head.hash, content))
                            if heads.count < prepared.ranges.count, sequence == prepared.ranges[heads.count].upperBound { heads.append(head) }
                            offset += size
                        }
                    }
                }
                try txn.writeHead(head)
                for pending in prepared.batch where !pending.keyChanges.isEmpty {
                    try txn.applyKeyChanges(pending.keyChanges)
                }
                if !synced {
                    synced = true
                    beforeSync()
                }
                return (head, heads)
            }
            let (head, heads) = committed
            committedHead = head
            segment?.isStored = true
            statistics.withLock {
                $0.transactions += 1
                $0.appendCalls += UInt64(prepared.batch.count)
                $0.events += UInt64(prepared.eventCount)
            }
            onCommit(head)
            for (pending, (range, head)) in zip(prepared.batch, zip(prepared.ranges, heads)) {
                pending.complete(.success(Appended(range: range, head: head)))
            }
            return .committed
        } catch let moved as StoredHeadMoved {
            committedHead = moved.stored
            if segment?.isStored != true { segment = nil }
            return .headMoved
        } catch RecordStorageConflict.recordExists {
            // A storage whose head check raced another writer's insert: read the head again.
            committedHead = nil
            if segment?.isStored != true { segment = nil }
            return .headMoved
        } catch {
            fail(prepared.batch, error)
            return .failed
        }
    }

    /// Nothing of the batch was written: answer its appenders, and start over from the stored
    /// head with a new segment (a new key).
    private func fail(_ batch: [PendingAppend], _ error: any Error) {
        segment = nil
        committedHead = nil
        let failure = storage.writeFailure(error)
        for pending in batch { pending.complete(.failure(failure)) }
    }

    /// Events per unit of parallel sealing.
    static let sealChunkSize = 1024

    /// Starts building the records of `events`, bodies sealed, `previousHash` still zero, with
    /// their content hashes: in chunks on all cores for a large batch, inline for a small one.
    private func sealEvents(
        _ events: [NewEvent], firstSequence: UInt64, segment: OpenSegment, time: Int64
    ) -> [BackgroundResult<SealedChunk>] {
        let firstNonce = segment.nonces.reserve(events.count)
        let build: @Sendable (RecordCrypto, Range<Int>) -> SealedChunk = { crypto, range in
            crypto.useKey(segment.key, segment: segment.sequence, encrypt: true)
            let sizes = range.map { RecordHeader.size + events[$0].plaintextCount + RecordCrypto.overhead }
            var contents: [ChainHash] = []
            contents.reserveCapacity(range.count)
            let bytes = [UInt8](unsafeUninitializedCapacity: sizes.reduce(0, +)) { buffer, initialized in
                var offset = 0
                for (index, size) in zip(range, sizes) {
                    let event = events[index]
                    let record = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[offset..<(offset + size)])
                    let header = RecordHeader(
                        type: event.authenticationKey == nil ? .event : .authenticatedEvent, kind: event.kind,
                        epoch: segment.epoch, sequence: firstSequence + UInt64(index),
                        time: time, segment: segment.sequence, previousHash: .zero,
                        bodyLength: UInt32(size - RecordHeader.size))
                    header.encode(into: record)
                    // `previousHash` is still zero here, as the authenticator's digest wants it.
                    let stored = event.authenticationKey.map { key in
                        event.body + event.body.withUnsafeBytes { body in
                            EventAuthenticator.tag(
                                digest: EventAuthenticator.digest(header: UnsafeRawBufferPointer(rebasing: record[..<RecordHeader.size]), body: body),
                                key: key)
                        }
                    } ?? event.body
                    stored.withUnsafeBytes { plaintext in
                        segment.nonces.nonce(firstNonce + UInt64(index)) { nonce in
                            crypto.seal(plaintext: plaintext, header: UnsafeRawBufferPointer(rebasing: record[..<RecordHeader.size]),
                                        nonce: nonce, into: UnsafeMutableRawBufferPointer(rebasing: record[RecordHeader.size...]))
                        }
                    }
                    contents.append(crypto.contentHash(UnsafeRawBufferPointer(record)))
                    offset += size
                }
                initialized = offset
            }
            return SealedChunk(bytes: bytes, sizes: sizes, contents: contents)
        }
        if events.count < Self.sealChunkSize {
            return [BackgroundResult(computingNow: { build(crypto, 0..<events.count) })]
        }
        let queue = DispatchQueue.global(qos: .userInitiated)
        return stride(from: 0, to: events.count, by: Self.sealChunkSize).map { start in
            let range = start..<min(events.count, start + Self.sealChunkSize)
            return BackgroundResult(on: queue) { build(RecordCrypto(), range) }
        }
    }
}

/// Records built before their transaction, back to back: complete but for their `previousHash`.
struct SealedChunk: Sendable {
    var bytes: [UInt8]
    var sizes: [Int]
    var contents: [ChainHash]
}
