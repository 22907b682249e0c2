import Crypto

/// One thing wrong with a log, at the record it concerns.
public struct LogProblem: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case missingRecord, malformedRecord, misplacedRecord, alteredRecord, badSegmentReference
        case noKey, unreadableSegmentKey, bodyAuthenticationFailed, headMismatch, metaDamaged
    }

    public let sequence: UInt64
    public let kind: Kind
    public let detail: String

    public var description: String { "record \(sequence): \(kind.rawValue): \(detail)" }
}

/// What `EventLog.verify` found.
public struct VerificationReport: Sendable, CustomStringConvertible {
    public var records: UInt64 = 0
    public var segments: UInt64 = 0
    /// Event bodies decrypted and authenticated (zero without a keyring).
    public var eventsOpened: UInt64 = 0
    public var head: ChainHead?
    public var problems: [LogProblem] = []
    /// Set when more problems were found than are listed.
    public var problemsTruncated = false

    public var isIntact: Bool { problems.isEmpty }

    public var description: String {
        var lines = ["records \(records), segments \(segments), bodies opened \(eventsOpened), "
            + (isIntact ? "intact" : "\(problems.count)\(problemsTruncated ? "+" : "") problem(s)")]
        lines += problems.map { "  \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// Walks every record: keys, headers, the hash chain, segment references and the committed head;
/// with a keyring, every segment key and every body. Reports every problem with its sequence
/// instead of stopping at the first.
struct LogVerifier {
    let storage: any RecordStorage
    let logID: LogID
    let keyring: LogKeyring?
    static let maxProblems = 1000
    static let chunkSize: UInt64 = 65_536

    func run() -> VerificationReport {
        var report = VerificationReport()
        var problems: [LogProblem] = []
        // Link n is broken when the link computed through record n-1 differs from the one stored
        // in record n (or, past the end, in the committed head).
        var brokenLinks: [UInt64] = []
        var segmentKeys: [UInt64: SymmetricKey] = [:]
        let crypto = RecordCrypto()
        var scratch: [UInt8] = []
        defer { scratch.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        var segmentRecords: Set<UInt64> = []
        var walk = ChainWalk(from: 1, logID: logID, crypto: crypto)
        var done = false

        func record(_ sequence: UInt64, _ kind: LogProblem.Kind, _ detail: String) {
            problems.append(LogProblem(sequence: sequence, kind: kind, detail: detail))
        }

        do {
            report.head = try storage.read { try $0.committedHead() }
        } catch {
            record(0, .metaDamaged, "\(error)")
            report.problems = problems
            return report
        }

        while !done && problems.count < Self.maxProblems {
            do {
                try storage.read { txn in
                    var inChunk: UInt64 = 0
                    done = true
                    try txn.forEachRecord(from: walk.expected, through: nil) { key, value in
                        if inChunk == Self.chunkSize || problems.count >= Self.maxProblems {
                            done = false
                            return false
                        }
                        inChunk += 1
                        report.records += 1
                        let step = walk.step(key: key, value: value)
                        for finding in step.findings {
                            let (sequence, reason) = finding.blame(at: step.sequence)
                            switch finding {
                            case .missing: record(sequence, .missingRecord, reason)
                            case .malformedKey, .malformedHeader: record(sequence, .malformedRecord, reason)
                            case .misplaced: record(sequence, .misplacedRecord, reason)
                            case .brokenLink: brokenLinks.append(step.sequence)
                            }
                        }
                        guard let header = step.header else { return true }
                        let sequence = step.sequence
                        switch header.type {
                        case .segment:
                            segmentRecords.insert(sequence)
                            report.segments += 1
                            let envelope: SegmentEnvelope
                            do {
                                envelope = try SegmentEnvelope.decode(UnsafeRawBufferPointer(rebasing: value[RecordHeader.size...]))
                            } catch {
                                record(sequence, .malformedRecord, "\(error)")
                                return true
                            }
                            if let keyring {
                                do {
                                    segmentKeys[sequence] = try envelope.open(with: keyring, logID: logID, segment: sequence)
                                } catch LogError.noKeyForSegment(_, let sealedTo, let offered) {
                                    record(sequence, .noKey, "sealed to [\(sealedTo.joined(separator: ", "))]; the key offered is [\(offered.joined(separator: ", "))]")
                                } catch {
                                    record(sequence, .unreadableSegmentKey, "\(error)")
                                }
                            }
                        case .event, .authenticatedEvent:
                            guard segmentRecords.contains(header.segment) else {
                                record(sequence, .badSegmentReference, "refers to segment \(header.segment), which is not a segment record before it")
                                return true
                            }
                            if let key = segmentKeys[header.segment] {
                                do {
                                    crypto.useKey(key, segment: header.segment, encrypt: false)
                                    let count = RecordCrypto.plaintextCount(ofRecord: value) ?? 0
                                    scratch.removeAll(keepingCapacity: true)
                                    scratch.append(contentsOf: repeatElement(0, count: count))
                                    try scratch.withUnsafeMutableBytes { try crypto.open(record: value, sequence: sequence, into: $0) }
                                    if header.type == .authenticatedEvent && count < EventAuthenticator.size {
                                        record(sequence, .malformedRecord, "an authenticated event shorter than its authenticator")
                                        return true
                                    }
                                    report.eventsOpened += 1
                                } catch {
                                    record(sequence, .bodyAuthenticationFailed, "the header or body was altered")
                                }
                            }
                        }
                        return true
                    }
                }
            } catch {
                record(walk.expected, .malformedRecord, "reading failed: \(error)")
                break
            }
        }

        // The end of the chain must be the committed head.
        let lastSeen = walk.lastSeen
        switch walk.end(at: report.head) {
        case .atHead: break
        case .short(let head): record(lastSeen + 1, .missingRecord, "the committed head is record \(head) but the log ends at \(lastSeen)")
        case .pastHead(let head): record(head + 1, .headMismatch, "records after the committed head \(head) exist")
        case .noHead: record(lastSeen, .headMismatch, "records exist but no head is committed")
        case .headLinkDiffers: brokenLinks.append(lastSeen + 1)
        }

        // A broken link n says record n-1 changed, unless link n+1 is broken too: then record n
        // itself changed (its stored link and its own content both fail).
        let broken = Set(brokenLinks)
        var attributed: Set<UInt64> = []
        for link in brokenLinks.sorted() where !attributed.contains(link) {
            if broken.contains(link + 1) {
                attributed.insert(link + 1)
                problems.append(LogProblem(sequence: link, kind: .alteredRecord,
                    detail: "it differs from what the chain recorded (its stored link to \(link - 1) and its own content both fail)"))
            } else {
                let linker = link > lastSeen ? "the committed head" : "record \(link)"
                problems.append(LogProblem(sequence: link - 1, kind: .alteredRecord,
                    detail: "it does not hash to what \(linker) links to"))
            }
        }
        problems.sort { ($0.sequence, $0.kind.rawValue) < ($1.sequence, $1.kind.rawValue) }
        report.problemsTruncated = problems.count >= Self.maxProblems
        report.problems = Array(problems.prefix(Self.maxProblems))
        return report
    }
}
