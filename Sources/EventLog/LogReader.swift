import Crypto
import Dispatch
import Foundation
import Synchronization

/// A decrypted event: its clear header and its plaintext body, and for an authenticated event
/// record its authenticator (which only a holder of its key can check).
public struct EventRecord: Sendable {
    public let header: RecordHeader
    public var body: [UInt8]
    public var authenticator: EventAuthenticator?

    public var sequence: UInt64 { header.sequence }
    public var kind: UInt16 { header.kind }
}

/// A decrypted event during `LogReader.replay`: `body` points into the reader's buffer and is
/// valid only inside the callback (copy what you keep). No allocation per event.
public struct EventView {
    public let header: RecordHeader
    public let body: UnsafeRawBufferPointer
    /// The tag after the body of an authenticated event record.
    let tag: UnsafeRawBufferPointer?

    public var sequence: UInt64 { header.sequence }
    public var kind: UInt16 { header.kind }

    /// Whether the record carries an authenticator (is of type 3), without computing it.
    public var carriesAuthenticator: Bool { tag != nil }

    /// The record's authenticator, its digest computed on this call (one SHA-256 of the body):
    /// a replay leaves it to the reader that checks authenticators, on the thread it chooses
    /// (a Nexus' start reads every data record but folds them later, and never needs theirs).
    public func authenticator() -> EventAuthenticator? {
        tag.map { EventAuthenticator(digest: EventAuthenticator.digest(of: header, body: body), tag: Bytes32($0)) }
    }
}

/// Reads and decrypts events, checking the hash chain on the way. Segment records are checked
/// and used for their keys but not returned: readers see events only.
public struct LogReader: Sendable {
    let core: LogCore
    public let keyring: LogKeyring
    private let keys = SegmentKeyCache()

    /// Records per read transaction and per unit of parallel work: small enough that a chunk's
    /// records are still in cache when its second pass opens their bodies (ADR-0002).
    static let chunkSize: UInt64 = 1024

    init(core: LogCore, keyring: LogKeyring) {
        self.core = core
        self.keyring = keyring
    }

    /// The events with sequences in `range` (segment records in it are skipped; the part of the
    /// range past the head is empty).
    public func events(in range: ClosedRange<UInt64>) throws -> [EventRecord] {
        var out: [EventRecord] = []
        try replay(from: range.lowerBound, through: range.upperBound) { out.append(EventRecord(header: $0.header, body: Array($0.body), authenticator: $0.authenticator())) }
        return out
    }

    /// Calls `body` with every event from `start` through `end` (at most the head when the call
    /// began), in order, and returns how many it delivered. Chunks of records are read, checked
    /// and decrypted on all cores while earlier chunks are delivered; the chain is checked from
    /// `start` on (from the genesis when `start` is 1) and, when the range reaches it, up to the
    /// committed head. Throws at the first damaged record (use `EventLog.verify` for a full
    /// report).
    @discardableResult
    public func replay(
        from start: UInt64 = 1, through end: UInt64? = nil, _ body: (EventView) throws -> Void
    ) throws -> UInt64 {
        var delivered: UInt64 = 0
        try pipeline(from: start, through: end, openBodies: true, transform: { $0 }) { chunk in
            try LogChunk(chunk).forEach(body)
            delivered += UInt64(chunk.headers.count)
        }
        return delivered
    }

    /// Every event after `position` through the committed head, checked to continue the chain
    /// from `position` (a log rewritten under the caller is refused, not read); returns the head
    /// it read to. What a Nexus folds when the log moved on (another replica appended).
    public func replay(after position: ChainHead, _ body: (EventView) throws -> Void) throws -> ChainHead {
        try pipeline(from: position.sequence + 1, through: nil, openBodies: true,
                     after: position.sequence > 0 ? position.hash : nil, transform: { $0 }) { chunk in
            try LogChunk(chunk).forEach(body)
        }
    }

    /// The replay with the work per event on the reader's workers too: `transform` runs on each
    /// chunk of events as soon as it is decrypted (on all cores, several chunks at once), and
    /// `deliver` gets the results on the calling thread in log order, each only once its chunk's
    /// place in the chain is checked. For work that is as heavy as the decryption (an export).
    public func replayChunks<T: Sendable>(
        from start: UInt64 = 1, through end: UInt64? = nil,
        transform: @escaping @Sendable (LogChunk) throws -> T, deliver: (T) throws -> Void
    ) throws {
        try pipeline(from: start, through: end, openBodies: true, transform: { try transform(LogChunk($0)) }, deliver: deliver)
    }

    /// The clear header of every record from `start` through `end` (segment records included),
    /// chain checked as `replay` does, nothing opened: what a tool without a key can see.
    @discardableResult
    public func replayHeaders(from start: UInt64 = 1, through end: UInt64? = nil, _ body: (RecordHeader) throws -> Void) throws -> UInt64 {
        var delivered: UInt64 = 0
        try pipeline(from: start, through: end, openBodies: false, transform: { $0.headers }) { headers in
            for header in headers { try body(header) }
            delivered += UInt64(headers.count)
        }
        return delivered
    }

    /// The ordered pipeline behind every replay: up to `depth` chunks are read, checked (and
    /// opened) and transformed in the background while this thread delivers the oldest one.
    /// With `link`, the first record must claim it as its predecessor's.
    @discardableResult
    private func pipeline<T: Sendable>(
        from start: UInt64, through end: UInt64?, openBodies: Bool, after link: ChainHash? = nil,
        transform: @escaping @Sendable (DecodedChunk) throws -> T, deliver: (T) throws -> Void
    ) throws -> ChainHead {
        let first = max(start, 1)
        let head = try core.head() ?? .empty(core.logID)
        let last = end.map { Swift.min($0, head.sequence) } ?? head.sequence
        guard first <= last else {
            if link != nil, first > head.sequence + 1 {
                throw LogError.corruptRecord(sequence: head.sequence, reason: "the log ends here, but record \(first - 1) was read before: the log was cut back")
            }
            if let link, first == head.sequence + 1, link != head.hash {
                throw LogError.corruptRecord(sequence: head.sequence, reason: "its chain link is not the one read before: the log was rewritten")
            }
            return head
        }
        let chunks = stride(from: first, through: last, by: Int(Self.chunkSize)).map {
            $0...Swift.min(last, $0 + Self.chunkSize - 1)
        }
        let depth = max(2, ProcessInfo.processInfo.activeProcessorCount) * 2
        let queue = DispatchQueue.global(qos: .userInitiated)
        var slots: [BackgroundResult<(ChunkLinks, T)>?] = []
        func submit(_ index: Int) {
            let range = chunks[index]
            slots.append(BackgroundResult(on: queue) {
                let chunk = try decodeChunk(range, openBodies: openBodies)
                return (ChunkLinks(anchor: chunk.anchor, endLink: chunk.endLink, bytes: chunk.bytes), try transform(chunk))
            })
        }
        for index in 0..<Swift.min(depth, chunks.count) { submit(index) }
        var bytesSinceRelease = 0
        var linkBefore = ChainHash.zero
        for index in chunks.indices {
            let (links, value) = try slots[index]!.value()
            slots[index] = nil  // its memory goes as soon as it is delivered
            // Chunks are checked inside; here they must join up, and the last must be the head.
            if index == 0, let link, links.anchor != link {
                throw LogError.corruptRecord(sequence: first, reason: "it does not link to record \(first - 1) as read before: the log was rewritten")
            }
            if index > 0, links.anchor != linkBefore {
                throw LogError.corruptRecord(sequence: chunks[index].lowerBound - 1,
                                             reason: "it does not hash to what record \(chunks[index].lowerBound) links to")
            }
            if chunks[index].upperBound == head.sequence, links.endLink != head.hash {
                throw LogError.corruptRecord(sequence: head.sequence, reason: "its chain link differs from the committed head's")
            }
            linkBefore = links.endLink
            if index + depth < chunks.count { submit(index + depth) }
            try deliver(value)
            bytesSinceRelease += links.bytes
            if bytesSinceRelease >= 64 << 20 {
                core.storage.releaseReadMemory()
                bytesSinceRelease = 0
            }
        }
        // What a long replay left mapped goes too (a Nexus' start reads the whole log once).
        if bytesSinceRelease >= 1 << 20 { core.storage.releaseReadMemory() }
        return head
    }

    /// Where a decoded chunk sits in the chain, for the delivering thread's checks.
    struct ChunkLinks: Sendable {
        var anchor: ChainHash
        var endLink: ChainHash
        var bytes: Int
    }

    /// A live tail: every event from `start` on, then each new one as it is committed, until
    /// the log is closed or the consuming task is cancelled. Pull-based, so a slow consumer
    /// holds back reading rather than buffering without bound.
    public func tail(from start: UInt64 = 1) -> LogTail {
        LogTail(reader: self, next: max(start, 1))
    }

    // MARK: - Chunk decoding

    /// The events of one chunk: headers, and the plaintexts back to back in one buffer (a body,
    /// then for an authenticated record its tag).
    struct DecodedChunk: Sendable {
        var headers: [RecordHeader] = []
        var bodySizes: [Int] = []
        var plaintextSizes: [Int] = []
        var arena: [UInt8] = []
        /// Stored bytes read (for releasing mapped pages).
        var bytes = 0
        /// The `previousHash` of the chunk's first record, and the link of its last.
        var anchor = ChainHash.zero
        var endLink = ChainHash.zero
    }

    /// Reads `range` in one transaction: first checks every record and the chain, then opens the
    /// event bodies into one buffer. Without `openBodies` it keeps every record's header (segment
    /// records too) and opens nothing.
    private func decodeChunk(_ range: ClosedRange<UInt64>, openBodies: Bool = true) throws -> DecodedChunk {
        let logID = core.logID
        let crypto = RecordCrypto()
        return try core.storage.read { txn in
            // From record 1 the walk starts at the genesis; a chunk further on is anchored on its
            // first record's claim, which the delivering thread checks against the chunk before.
            var walk = ChainWalk(from: range.lowerBound, logID: logID, crypto: crypto)
            var chunk = DecodedChunk()
            chunk.headers.reserveCapacity(Int(range.count))
            chunk.bodySizes.reserveCapacity(Int(range.count))
            var records: [UnsafeRawBufferPointer] = []
            records.reserveCapacity(Int(range.count))
            var plaintextBytes = 0
            try txn.forEachRecord(from: range.lowerBound, through: range.upperBound) { key, value in
                let step = walk.step(key: key, value: value)
                if let finding = step.findings.first {
                    let (sequence, reason) = finding.blame(at: step.sequence)
                    throw LogError.corruptRecord(sequence: sequence, reason: reason)
                }
                let (sequence, header) = (step.sequence, step.header!)
                chunk.bytes += value.count
                if !openBodies {
                    chunk.headers.append(header)
                } else if header.type.isEvent {
                    guard let count = RecordCrypto.plaintextCount(ofRecord: value) else {
                        throw LogError.corruptRecord(sequence: sequence, reason: "event body shorter than nonce and tag")
                    }
                    let trailer = header.type == .authenticatedEvent ? EventAuthenticator.size : 0
                    guard count >= trailer else {
                        throw LogError.corruptRecord(sequence: sequence, reason: "authenticated event shorter than its authenticator")
                    }
                    chunk.headers.append(header)
                    chunk.bodySizes.append(count - trailer)
                    chunk.plaintextSizes.append(count)
                    records.append(value)
                    plaintextBytes += count
                }
                return sequence < range.upperBound
            }
            guard walk.expected > range.upperBound, let anchor = walk.anchor, let link = walk.link else {
                throw LogError.corruptRecord(sequence: walk.expected, reason: "missing")
            }
            chunk.anchor = anchor
            chunk.endLink = link
            guard openBodies else { return chunk }
            var failure: LogError?
            chunk.arena = [UInt8](unsafeUninitializedCapacity: plaintextBytes) { arena, initialized in
                var offset = 0
                var segment: UInt64 = 0
                do {
                    for (header, record) in zip(chunk.headers, records) {
                        if header.segment != segment {
                            crypto.useKey(try segmentKey(header.segment, txn: txn), segment: header.segment, encrypt: false)
                            segment = header.segment
                        }
                        let count = record.count - RecordHeader.size - RecordCrypto.overhead
                        let plaintext = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(arena)[offset..<(offset + count)])
                        try crypto.open(record: record, sequence: header.sequence, into: plaintext)
                        offset += count
                    }
                } catch {
                    failure = LogError(error)
                    // Wipe what was opened before the failure.
                    UnsafeMutableRawBufferPointer(arena).initializeMemory(as: UInt8.self, repeating: 0)
                }
                initialized = plaintextBytes
            }
            if let failure { throw failure }
            return chunk
        }
    }

    private func segmentKey(_ segment: UInt64, txn: any RecordView) throws -> SymmetricKey {
        if let key = keys.key(for: segment) { return key }
        guard let value = try txn.record(at: segment) else {
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
        let key = try envelope.open(with: keyring, logID: core.logID, segment: segment)
        keys.store(key, for: segment)
        return key
    }
}

/// The decrypted events of one chunk of a replay (`LogReader.replayChunks`), in order.
public struct LogChunk: Sendable {
    let chunk: LogReader.DecodedChunk

    init(_ chunk: LogReader.DecodedChunk) { self.chunk = chunk }

    public var count: Int { chunk.headers.count }

    /// Calls `body` with each event; its `body` bytes are valid only inside the call.
    public func forEach(_ body: (EventView) throws -> Void) throws {
        try chunk.arena.withUnsafeBytes { arena in
            var offset = 0
            for index in chunk.headers.indices {
                let (header, count, end) = (chunk.headers[index], chunk.bodySizes[index], offset + chunk.plaintextSizes[index])
                try body(EventView(header: header, body: UnsafeRawBufferPointer(rebasing: arena[offset..<(offset + count)]),
                                   tag: header.type == .authenticatedEvent ? UnsafeRawBufferPointer(rebasing: arena[(offset + count)..<end]) : nil))
                offset = end
            }
        }
    }
}

/// Opened segment keys, shared by the reader's parallel workers.
final class SegmentKeyCache: Sendable {
    private let keys = Mutex<[UInt64: SymmetricKey]>([:])

    func key(for segment: UInt64) -> SymmetricKey? { keys.withLock { $0[segment] } }
    func store(_ key: SymmetricKey, for segment: UInt64) { keys.withLock { $0[segment] = key } }
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
                let notifier = reader.core.notifier
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
