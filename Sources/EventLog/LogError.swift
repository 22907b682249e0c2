/// Everything the event log can refuse, each saying what went wrong and what to do.
public enum LogError: Error, Equatable, CustomStringConvertible {
    /// `meta` records a format this build does not read.
    case unsupportedFormat(found: UInt32, supported: UInt32)
    /// A `meta` entry is missing or malformed.
    case corruptMeta(key: String, reason: String)
    /// A stored record cannot be decoded or does not fit the chain.
    case corruptRecord(sequence: UInt64, reason: String)
    /// The end of the log does not match the committed chain head: appending is refused.
    case damagedTail(sequence: UInt64, reason: String)
    /// An append came before any recipient was configured.
    case noRecipients
    /// None of the offered private keys is a recipient of the segment.
    case noKeyForSegment(segment: UInt64, sealedTo: [String], offered: [String])
    /// The segment's key envelope exists but cannot be opened.
    case segmentKeyUnreadable(segment: UInt64, reason: String)
    /// An event body fails AES-GCM authentication.
    case bodyAuthenticationFailed(sequence: UInt64)
    case recordNotFound(sequence: UInt64)
    case eventTooLarge(size: Int, limit: Int)
    case noEvents
    /// An append that expected the log's head at `expected` found it at `found`: someone appended
    /// in between. Nothing of it was written; decide again on the newer state.
    case headMoved(expected: UInt64, found: UInt64)
    /// Another process (or another open in this one) holds the log open for writing.
    case writerLocked(directory: String)
    case invalidKeyFile(String)
    case backupTargetNotEmpty(String)
    /// `spike log copy` writes only into a log with no record.
    case copyTargetNotEmpty(records: UInt64)
    case readOnly
    case closed
    /// A key-table change that the table cannot hold; nothing was written.
    case invalidKeyTableEntry(String)
    /// LMDB refused an operation (for example the disk is full); nothing was written.
    case storage(LMDBError)
    /// The store's server (PostgreSQL) cannot be reached or went away: nothing of the operation
    /// was acknowledged. `place` names host, port and database, never credentials.
    case storeUnavailable(place: String, reason: String)
    /// The store's server refused an operation (permissions, a constraint): nothing was written.
    case storeRefused(place: String, reason: String)
    /// Another writer of a shared store stored the same sequence first; nothing was written.
    case storeConflict(reason: String)
    /// The store's schema is newer than this build knows.
    case unsupportedSchema(found: Int, supported: Int)

    /// Whether the append failed for want of space (a full disk or quota): nothing was written,
    /// and the same append can succeed once space is freed.
    public var isOutOfSpace: Bool {
        if case .storage(let error) = self { return error.isOutOfSpace }
        return false
    }

    /// Whether the store could not be reached: nothing was acknowledged, and the same operation
    /// can succeed once it is back.
    public var isStoreUnavailable: Bool {
        if case .storeUnavailable = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .unsupportedFormat(let found, let supported):
            return "the log is in format \(found), this build reads format \(supported): use a matching spike version"
        case .corruptMeta(let key, let reason):
            return "the log's meta entry '\(key)' is damaged (\(reason)); run `spike log verify` and restore from a backup"
        case .corruptRecord(let sequence, let reason):
            return "record \(sequence) is damaged: \(reason); run `spike log verify` for the full report"
        case .damagedTail(let sequence, let reason):
            return "the end of the log is damaged at record \(sequence) (\(reason)). Appending is refused and nothing "
                + "was truncated. Run `spike log verify` to see the damage, then restore from a backup "
                + "(`spike log backup` makes one) or move the data directory aside."
        case .noRecipients:
            return "no recipient keys are set for new segments: call setRecipients(_:epoch:) before appending"
        case .noKeyForSegment(let segment, let sealedTo, let offered):
            return "no offered key opens segment \(segment): it is sealed to [\(sealedTo.joined(separator: ", "))], "
                + "the keys offered are [\(offered.joined(separator: ", "))]; use one of the log's recipient keys"
        case .segmentKeyUnreadable(let segment, let reason):
            return "the key of segment \(segment) cannot be opened: \(reason)"
        case .bodyAuthenticationFailed(let sequence):
            return "record \(sequence) fails authentication: its header or body was altered"
        case .recordNotFound(let sequence):
            return "record \(sequence) does not exist"
        case .eventTooLarge(let size, let limit):
            return "an event body of \(size) bytes exceeds the \(limit)-byte limit"
        case .headMoved(let expected, let found):
            return "the log's head moved from \(expected) to \(found) before this append: nothing was written; decide again on the newer state"
        case .writerLocked(let directory):
            return "the log in \(directory) is open for writing by another process (a running `spike nexus`?): "
                + "stop it first, or open the log read-only"
        case .noEvents:
            return "an append needs at least one event"
        case .invalidKeyFile(let reason):
            return "invalid log key file: \(reason)"
        case .copyTargetNotEmpty(let records):
            return "the copy's target already holds a log (\(records) records): copy into a new directory or an empty database"
        case .backupTargetNotEmpty(let path):
            return "backup target \(path) is not empty: name a new or empty directory"
        case .readOnly:
            return "the log was opened read-only"
        case .closed:
            return "the log is closed"
        case .invalidKeyTableEntry(let what):
            return "the key table refuses \(what); nothing was written"
        case .storage(let error):
            return "storage error, nothing was written: \(error)"
        case .storeUnavailable(let place, let reason):
            return "the event store (\(place)) is unavailable: \(reason); nothing was acknowledged, retry once it is reachable"
        case .storeRefused(let place, let reason):
            return "the event store (\(place)) refused the operation: \(reason); nothing was written"
        case .storeConflict(let reason):
            return "another writer stored the same record first (\(reason)); nothing was written, decide again"
        case .unsupportedSchema(let found, let supported):
            return "the event store's schema is version \(found), this build knows versions up to \(supported): use a matching spike version"
        }
    }
}

extension LogError {
    /// Any error from below the log as a `LogError`.
    init(_ error: any Error) {
        switch error {
        case let error as LogError: self = error
        case let error as LMDBError: self = .storage(error)
        default: self = .storage(LMDBError(code: -1, operation: "\(error)"))
        }
    }
}
