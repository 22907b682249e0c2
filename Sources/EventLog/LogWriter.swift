import Crypto
import Foundation
import Synchronization

/// An event to append: the domain's kind and the plaintext body (encrypted before it is stored).
public struct NewEvent: Sendable {
    public var kind: UInt16
    public var body: [UInt8]

    public init(kind: UInt16, body: [UInt8]) {
        self.kind = kind
        self.body = body
    }
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
/// everything queued, writes it in one LMDB transaction (one fsync) and then answers them all:
/// group commit. LMDB's write transactions are bound to a thread, and they block, so they live
/// here and never on an event loop or in the cooperative pool.
final class LogWriter: @unchecked Sendable {
    struct Options {
        var segmentMaxRecords: UInt64
        var segmentMaxAge: Duration
        var maxBatchEvents: Int
    }

    private struct PendingAppend {
        var events: [NewEvent]
        var continuation: CheckedContinuation<ClosedRange<UInt64>, any Error>
    }

    /// The segment whose key encrypts new events. Writer-thread state only.
    private struct OpenSegment {
        var sequence: UInt64
        var epoch: UInt32
        var key: SymmetricKey
        var nonces: NonceSequence
        var records: UInt64
        var openedAt: ContinuousClock.Instant
    }

    private let environment: LMDBEnvironment
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
    private let finished = DispatchSemaphore(value: 0)

    // Writer thread only.
    private var segment: OpenSegment?
    private let crypto = RecordCrypto()

    /// Transactions committed so far (each one fsync); with `appendCalls`, shows group commit.
    let statistics = Mutex(LogStatistics())

    init(environment: LMDBEnvironment, logID: LogID, options: Options, onCommit: @escaping @Sendable (ChainHead) -> Void) {
        self.environment = environment
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

    func append(_ events: [NewEvent]) async throws -> ClosedRange<UInt64> {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            if stopping {
                continuation.resume(throwing: LogError.closed)
                return
            }
            queue.append(PendingAppend(events: events, continuation: continuation))
            condition.signal()
        }
    }

    /// Stops taking appends, writes what is queued, and returns when the thread has ended.
    func stop() {
        condition.lock()
        let wasStopping = stopping
        stopping = true
        condition.signal()
        condition.unlock()
        if !wasStopping { finished.wait() }
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty {
                condition.unlock()
                break
            }
            var batch: [PendingAppend] = []
            var count = 0
            while let next = queue.first, batch.isEmpty || count + next.events.count <= options.maxBatchEvents {
                batch.append(queue.removeFirst())
                count += next.events.count
            }
            let recipients = self.recipients
            let epoch = self.epoch
            if recipientsChanged {
                segment = nil
                recipientsChanged = false
            }
            condition.unlock()
            write(batch, recipients: recipients, epoch: epoch)
        }
        finished.signal()
    }

    private func write(_ batch: [PendingAppend], recipients: [LogRecipient], epoch: UInt32) {
        let now = ContinuousClock.now
        if let open = segment,
           open.records >= options.segmentMaxRecords || open.openedAt.duration(to: now) >= options.segmentMaxAge {
            segment = nil
        }
        if segment == nil && recipients.isEmpty {
            for pending in batch { pending.continuation.resume(throwing: LogError.noRecipients) }
            return
        }
        let needsSegment = segment == nil
        let newKey = needsSegment ? SymmetricKey(size: .bits256) : nil
        do {
            let result = try environment.write { txn -> (head: ChainHead, ranges: [ClosedRange<UInt64>], segment: OpenSegment) in
                var head = try LogMeta.read(txn)?.head ?? ChainHead(sequence: 0, hash: ChainHash.genesis(of: logID))
                let time = Int64(Date().timeIntervalSince1970 * 1_000_000_000)
                var current: OpenSegment
                if let newKey {
                    let sequence = head.sequence + 1
                    let envelope = try SegmentEnvelope.seal(newKey, to: recipients, logID: logID, segment: sequence).encoded()
                    let header = RecordHeader(
                        type: .segment, kind: 0, epoch: epoch, sequence: sequence, time: time,
                        segment: sequence, previousHash: head.hash, bodyLength: UInt32(envelope.count))
                    var record = [UInt8](repeating: 0, count: RecordHeader.size)
                    record.withUnsafeMutableBytes { header.encode(into: $0) }
                    record += envelope
                    try txn.put(environment.events, key: sequenceKey(sequence), value: record, append: true)
                    head = ChainHead(sequence: sequence, hash: record.withUnsafeBytes { crypto.hash($0) })
                    current = OpenSegment(sequence: sequence, epoch: epoch, key: newKey, nonces: NonceSequence(), records: 0, openedAt: now)
                } else {
                    current = segment!
                }
                crypto.useKey(current.key, segment: current.sequence, encrypt: true)
                var ranges: [ClosedRange<UInt64>] = []
                for pending in batch {
                    let first = head.sequence + 1
                    for event in pending.events {
                        let sequence = head.sequence + 1
                        let header = RecordHeader(
                            type: .event, kind: event.kind, epoch: current.epoch, sequence: sequence, time: time,
                            segment: current.sequence, previousHash: head.hash,
                            bodyLength: UInt32(event.body.count + RecordCrypto.overhead))
                        // Built in place in the LMDB page: header, then the sealed body.
                        let record = try txn.reserve(
                            environment.events, key: sequenceKey(sequence),
                            count: RecordHeader.size + Int(header.bodyLength), append: true)
                        header.encode(into: record)
                        event.body.withUnsafeBytes { plaintext in
                            current.nonces.next { nonce in
                                crypto.seal(plaintext: plaintext, header: UnsafeRawBufferPointer(rebasing: record[..<RecordHeader.size]),
                                            nonce: nonce, into: UnsafeMutableRawBufferPointer(rebasing: record[RecordHeader.size...]))
                            }
                        }
                        head = ChainHead(sequence: sequence, hash: crypto.hash(UnsafeRawBufferPointer(record)))
                        current.records += 1
                    }
                    ranges.append(first...head.sequence)
                }
                try LogMeta.writeHead(head, txn)
                return (head, ranges, current)
            }
            segment = result.segment
            statistics.withLock {
                $0.transactions += 1
                $0.appendCalls += UInt64(batch.count)
                $0.events += UInt64(result.ranges.reduce(0) { $0 + $1.count })
            }
            onCommit(result.head)
            for (pending, range) in zip(batch, result.ranges) { pending.continuation.resume(returning: range) }
        } catch {
            // Nothing of the batch was written. Start a new segment (a new key) next time.
            segment = nil
            let failure = LogError(error)
            for pending in batch { pending.continuation.resume(throwing: failure) }
        }
    }

}
