import Crypto
import Dispatch
import Foundation
import Synchronization

/// A decrypted event: its clear header and its plaintext body.
public struct EventRecord: Sendable {
    public let header: RecordHeader
    public var body: [UInt8]

    public var sequence: UInt64 { header.sequence }
    public var kind: UInt16 { header.kind }
}

/// Reads and decrypts events, checking the hash chain on the way. Segment records are checked
/// and used for their keys but not returned: readers see events only.
public struct LogReader: Sendable {
    let log: EventLog
    public let keyring: LogKeyring
    private let keys = SegmentKeyCache()

    /// Records per read transaction and per unit of parallel work.
    static let chunkSize: UInt64 = 4096

    init(log: EventLog, keyring: LogKeyring) {
        self.log = log
        self.keyring = keyring
    }

    /// The events with sequences in `range` (segment records in it are skipped; the part of the
    /// range past the head is empty).
    public func events(in range: ClosedRange<UInt64>) throws -> [EventRecord] {
        var out: [EventRecord] = []
        try replay(from: range.lowerBound, through: range.upperBound) { out.append($0) }
        return out
    }

    /// Calls `body` with every event from `start` through `end` (at most the head when the call
    /// began), in order. Chunks are read and decrypted in parallel, delivered in order; the
    /// chain is checked across every record including the one before `start`. Throws at the
    /// first damaged record (use `EventLog.verify` for a full report).
    @discardableResult
    public func replay(
        from start: UInt64 = 1, through end: UInt64? = nil, _ body: (EventRecord) throws -> Void
    ) throws -> UInt64 {
        let first = max(start, 1)
        let head = try log.head()?.sequence ?? 0
        let last = end.map { Swift.min($0, head) } ?? head
        guard first <= last else { return 0 }
        let environment = log.environment
        let width = max(2, ProcessInfo.processInfo.activeProcessorCount) * 2
        var delivered: UInt64 = 0
        var chunkStart = first
        var bytesSinceRelease = 0
        while chunkStart <= last {
            var ranges: [ClosedRange<UInt64>] = []
            while ranges.count < width && chunkStart <= last {
                let chunkEnd = min(last, chunkStart + Self.chunkSize - 1)
                ranges.append(chunkStart...chunkEnd)
                chunkStart = chunkEnd + 1
            }
            let window = ranges
            let results = window.map { _ in ChunkResult() }
            DispatchQueue.concurrentPerform(iterations: window.count) { index in
                results[index].set(Result { try decodeChunk(window[index]) })
            }
            for result in results {
                let chunk = try result.take()
                bytesSinceRelease += chunk.bytes
                for event in chunk.events {
                    try body(event)
                    delivered += 1
                }
            }
            if bytesSinceRelease >= 64 << 20 {
                environment.releaseMappedPages()
                bytesSinceRelease = 0
            }
        }
        return delivered
    }

    /// A live tail: every event from `start` on, then each new one as it is committed, until
    /// the log is closed or the consuming task is cancelled. Pull-based, so a slow consumer
    /// holds back reading rather than buffering without bound.
    public func tail(from start: UInt64 = 1) -> LogTail {
        LogTail(reader: self, next: max(start, 1))
    }

    // MARK: - Chunk decoding

    struct DecodedChunk: Sendable {
        var events: [EventRecord]
        var bytes: Int
    }

    private func decodeChunk(_ range: ClosedRange<UInt64>) throws -> DecodedChunk {
        let environment = log.environment
        let logID = log.logID
        return try environment.read { txn in
            var previous: ChainHash
            if range.lowerBound == 1 {
                previous = ChainHash.genesis(of: logID)
            } else if let value = try txn.get(environment.events, key: sequenceKey(range.lowerBound - 1)) {
                previous = ChainHash.of(record: value)
            } else {
                throw LogError.corruptRecord(sequence: range.lowerBound - 1, reason: "missing")
            }
            var events: [EventRecord] = []
            events.reserveCapacity(Int(range.count))
            var bytes = 0
            var expected = range.lowerBound
            try txn.forEach(environment.events, from: sequenceKey(range.lowerBound)) { key, value in
                guard let sequence = sequence(fromKey: key) else {
                    throw LogError.corruptRecord(sequence: expected, reason: "a \(key.count)-byte key where an 8-byte sequence belongs")
                }
                guard sequence == expected else {
                    throw LogError.corruptRecord(sequence: expected, reason: "missing (the next stored record is \(sequence))")
                }
                let header: RecordHeader
                do { header = try RecordHeader.decode(record: value) } catch {
                    throw LogError.corruptRecord(sequence: sequence, reason: "\(error)")
                }
                guard header.sequence == sequence else {
                    throw LogError.corruptRecord(sequence: sequence, reason: "stored as \(sequence) but its header says \(header.sequence)")
                }
                guard header.previousHash == previous else {
                    throw LogError.corruptRecord(sequence: sequence - 1, reason: "it does not hash to what record \(sequence) links to")
                }
                previous = ChainHash.of(record: value)
                bytes += value.count
                if header.type == .event {
                    let key = try segmentKey(header.segment, txn: txn)
                    events.append(EventRecord(header: header, body: try RecordCipher.open(record: value, sequence: sequence, key: key)))
                }
                expected += 1
                return sequence < range.upperBound
            }
            guard expected > range.upperBound else {
                throw LogError.corruptRecord(sequence: expected, reason: "missing")
            }
            return DecodedChunk(events: events, bytes: bytes)
        }
    }

    private func segmentKey(_ segment: UInt64, txn: LMDBTransaction) throws -> SymmetricKey {
        if let key = keys.key(for: segment) { return key }
        let environment = log.environment
        guard let value = try txn.get(environment.events, key: sequenceKey(segment)) else {
            throw LogError.corruptRecord(sequence: segment, reason: "the segment record is missing")
        }
        let header: RecordHeader
        let envelope: SegmentEnvelope
        do {
            header = try RecordHeader.decode(record: value)
            envelope = try SegmentEnvelope.decode(UnsafeRawBufferPointer(rebasing: value[RecordHeader.size...]))
        } catch {
            throw LogError.corruptRecord(sequence: segment, reason: "\(error)")
        }
        guard header.type == .segment, header.sequence == segment else {
            throw LogError.corruptRecord(sequence: segment, reason: "events refer to it as a segment but it is not a segment record")
        }
        let key = try envelope.open(with: keyring, logID: log.logID, segment: segment)
        keys.store(key, for: segment)
        return key
    }
}

/// Opened segment keys, shared by the reader's parallel workers.
final class SegmentKeyCache: Sendable {
    private let keys = Mutex<[UInt64: SymmetricKey]>([:])

    func key(for segment: UInt64) -> SymmetricKey? { keys.withLock { $0[segment] } }
    func store(_ key: SymmetricKey, for segment: UInt64) { keys.withLock { $0[segment] = key } }
}

/// One slot of a parallel replay window, written by one worker and read after the window.
private final class ChunkResult: @unchecked Sendable {
    private var result: Result<LogReader.DecodedChunk, any Error>?

    func set(_ result: Result<LogReader.DecodedChunk, any Error>) { self.result = result }
    func take() throws -> LogReader.DecodedChunk { try result!.get() }
}

/// The events of a log as they are committed (see `LogReader.tail(from:)`).
public struct LogTail: AsyncSequence, Sendable {
    public typealias Element = EventRecord
    let reader: LogReader
    let next: UInt64

    public func makeAsyncIterator() -> Iterator {
        Iterator(reader: reader, next: next)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let reader: LogReader
        var next: UInt64
        var buffer: [EventRecord] = []
        var position = 0

        public mutating func next() async throws -> EventRecord? {
            while position == buffer.count {
                if Task.isCancelled { return nil }
                let notifier = reader.log.notifier
                let head = notifier.head
                if head >= next {
                    let end = Swift.min(head, next + LogReader.chunkSize - 1)
                    buffer = try reader.events(in: next...end)
                    position = 0
                    next = end + 1
                } else if notifier.isClosed {
                    return nil
                } else {
                    await notifier.wait(beyond: next - 1)
                }
            }
            defer { position += 1 }
            return buffer[position]
        }
    }
}
