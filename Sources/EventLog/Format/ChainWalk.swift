/// The one walk along the hash chain, shared by the reader (which stops at the first finding),
/// the verifier (which lists them all) and the open's tail check. Records are fed in key order;
/// each is checked for its key, its place and its header, and for whether it claims the link of
/// the record before it; the walk then carries its own link forward. What it finds is returned,
/// not thrown, so that each caller decides what a finding means.
struct ChainWalk {
    /// Something wrong at one record.
    enum Finding: Equatable {
        /// Records `first...last` are absent.
        case missing(first: UInt64, last: UInt64)
        /// A key that is not an 8-byte sequence.
        case malformedKey(bytes: Int)
        /// A header that does not decode.
        case malformedHeader(String)
        /// Stored under one sequence, its header names another.
        case misplaced(header: UInt64)
        /// The record does not claim the link of the record before it: link `sequence` is
        /// broken (the record before it changed, or this one did).
        case brokenLink

        /// The record a finding at `sequence` puts in doubt, and why: a broken link blames the
        /// record before it (it no longer hashes to what was linked), the rest their own.
        func blame(at sequence: UInt64) -> (sequence: UInt64, reason: String) {
            switch self {
            case .missing(let first, let last) where first == last: (first, "record \(first) is missing")
            case .missing(let first, let last): (first, "records \(first)…\(last) are missing")
            case .malformedKey(let bytes): (sequence, "a \(bytes)-byte key where an 8-byte sequence belongs")
            case .malformedHeader(let why): (sequence, why)
            case .misplaced(let header): (sequence, "stored as \(sequence) but its header says \(header): records were moved or copied")
            case .brokenLink where sequence == 1: (1, "it does not link to the log's genesis")
            case .brokenLink: (sequence - 1, "it does not hash to what record \(sequence) links to")
            }
        }
    }

    /// One record as the walk saw it.
    struct Step {
        /// The record's sequence (for an unreadable key, the one the walk expected).
        var sequence: UInt64
        /// Nil when the header does not decode (or the key does not).
        var header: RecordHeader?
        var findings: [Finding] = []
    }

    private let crypto: RecordCrypto
    /// The sequence the next record should have.
    private(set) var expected: UInt64
    /// The last sequence seen (0 before any).
    private(set) var lastSeen: UInt64 = 0
    /// The link the next record must claim: nil when unknown (a walk that starts past record 1,
    /// until its first record; after a record whose header is unreadable).
    private(set) var link: ChainHash?
    /// What the first record claimed as its previous link: where a walk from the middle is
    /// anchored (the reader checks it against the chunk before).
    private(set) var anchor: ChainHash?

    /// A walk from record `start`; from record 1 it begins at the log's genesis.
    init(from start: UInt64, logID: LogID, crypto: RecordCrypto) {
        self.crypto = crypto
        expected = max(start, 1)
        link = expected == 1 ? ChainHash.genesis(of: logID) : nil
    }

    @inline(__always)
    mutating func step(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Step {
        guard let sequence = sequence(fromKey: key) else {
            return Step(sequence: expected, findings: [.malformedKey(bytes: key.count)])
        }
        var step = Step(sequence: sequence)
        let contiguous = sequence == expected
        if !contiguous { step.findings.append(.missing(first: expected, last: sequence - 1)) }
        expected = sequence + 1
        lastSeen = sequence
        let header: RecordHeader
        do { header = try RecordHeader.decode(record: value) } catch {
            step.findings.append(.malformedHeader("\(error)"))
            link = nil
            return step
        }
        step.header = header
        if header.sequence != sequence { step.findings.append(.misplaced(header: header.sequence)) }
        if anchor == nil { anchor = header.previousHash }
        if contiguous, let link, header.previousHash != link { step.findings.append(.brokenLink) }
        // Go on from what this record claims, so that one damage is found once.
        link = crypto.link(header.previousHash, crypto.contentHash(value))
        return step
    }

    /// How the end of the walk stands against the committed head.
    enum End: Equatable {
        case atHead
        /// The head is past the last record: records up to it are missing.
        case short(head: UInt64)
        /// Records exist past the committed head.
        case pastHead(head: UInt64)
        /// No head is committed, yet records exist.
        case noHead
        /// The last record is the head's, but its link is not the head's.
        case headLinkDiffers
    }

    func end(at head: ChainHead?) -> End {
        guard let head else { return lastSeen == 0 ? .atHead : .noHead }
        if head.sequence > lastSeen { return .short(head: head.sequence) }
        if head.sequence < lastSeen { return .pastHead(head: head.sequence) }
        return link == head.hash ? .atHead : .headLinkDiffers
    }
}
