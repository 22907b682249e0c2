import Foundation

/// The genesis of an epoch: everything a later start needs to get the root key back and to
/// recognize it (DESIGN §4). Only public or wrapped key material is in it.
public struct EpochStarted: EventPayload {
    public static let kind = EventKind(2, "EpochStarted", .changesState)
    public static let sealedFields = ["wrappedEpochPrivateKey", "keyCheckValue"] + PasswordWrap.sealedFields.map { "passwordWraps." + $0 }

    public var epoch: UInt32
    /// Shamir parameters: `shares` Keepers, any `threshold` of them give the root key back.
    public var shares: Int
    public var threshold: Int
    /// Keeper URLs; the position (1-based) is the share index.
    public var keepers: [String]
    /// X25519 public key that this epoch's segment keys are sealed to.
    public var epochPublicKey: Data
    /// The epoch's private log key, AES-256-GCM under HKDF(R, "log", epoch).
    public var wrappedEpochPrivateKey: Data
    /// The root key wrapped under each admin password.
    public var passwordWraps: [PasswordWrap]
    /// HMAC-SHA256(R, "spike key check").
    public var keyCheckValue: Data

    public init(epoch: UInt32, shares: Int, threshold: Int, keepers: [String], epochPublicKey: Data,
                wrappedEpochPrivateKey: Data, passwordWraps: [PasswordWrap], keyCheckValue: Data) {
        self.epoch = epoch
        self.shares = shares
        self.threshold = threshold
        self.keepers = keepers
        self.epochPublicKey = epochPublicKey
        self.wrappedEpochPrivateKey = wrappedEpochPrivateKey
        self.passwordWraps = passwordWraps
        self.keyCheckValue = keyCheckValue
    }
}

/// A Nexus process started. `previousStartCrashed` names the earlier `NexusStarted` of the same
/// replica that no `NexusStopped` followed: that process crashed. Several replicas share a
/// PostgreSQL log, each with a name that outlives its processes (`replica`); a start of one is
/// never another's crash. Starts written before replicas had names have none: one lane.
public struct NexusStarted: EventPayload {
    public static let kind = EventKind(3, "NexusStarted", .changesState)

    /// This process (random at every start).
    public var instance: String
    public var version: String
    public var previousStartCrashed: UInt64?
    /// The replica this process runs as (`SPIKE_NEXUS_REPLICA`, or the name kept in its data
    /// directory); nil in logs written before replicas.
    public var replica: String?

    public init(instance: String, version: String, previousStartCrashed: UInt64?, replica: String? = nil) {
        self.instance = instance
        self.version = version
        self.previousStartCrashed = previousStartCrashed
        self.replica = replica
    }

    /// The lane of the audit and of the crash rule: "" for a start without a replica name.
    public var lane: String { replica ?? "" }
}

/// A Nexus process stopped cleanly.
public struct NexusStopped: EventPayload {
    public static let kind = EventKind(4, "NexusStopped", .changesState)

    public var instance: String
    public var reason: String

    public init(instance: String, reason: String) {
        self.instance = instance
        self.reason = reason
    }
}

/// Where a root key came from.
public enum RootKeySource: String, Codable, Equatable, Sendable {
    case keepers, password, shards
}

/// The root key is in memory again and matches the genesis' key check value.
public struct RootKeyRestored: EventPayload {
    public static let kind = EventKind(5, "RootKeyRestored", .changesState)

    public var source: RootKeySource
    /// The share indices combined (for `keepers` and `shards`).
    public var shareIndices: [Int]
    /// For `password`: the admin whose password unwrapped the root key.
    public var admin: String?

    public init(source: RootKeySource, shareIndices: [Int], admin: String? = nil) {
        self.source = source
        self.shareIndices = shareIndices
        self.admin = admin
    }
}

/// A reconstruction was refused (it did not match the key check value, or a password did not
/// unwrap the root key) and never used. Password failures carry their time: the back-off
/// between attempts is computed from them, so it survives a restart of the Nexus.
public struct RootKeyRestoreFailed: EventPayload {
    public static let kind = EventKind(6, "RootKeyRestoreFailed", .changesState)

    public var source: RootKeySource
    public var shareIndices: [Int]
    public var reason: String
    /// When it failed (milliseconds since 1970), for `password`.
    public var at: Int64?

    public init(source: RootKeySource, shareIndices: [Int], reason: String, at: Int64? = nil) {
        self.source = source
        self.shareIndices = shareIndices
        self.reason = reason
        self.at = at
    }
}

/// The epoch is closed for good: its root key is declared lost, and the system starts over at the
/// next `spike init` with a new epoch and a new admin password. Nothing before it is erased; the
/// fold of what comes after starts empty (DESIGN §1).
public struct SystemReset: EventPayload {
    public static let kind = EventKind(9, "SystemReset", .changesState)

    /// The epoch that was closed.
    public var epoch: UInt32
    /// What the operator said, for the audit trail.
    public var reason: String

    public init(epoch: UInt32, reason: String) {
        self.epoch = epoch
        self.reason = reason
    }
}

/// An admin's password wraps the root key: the body of `AdminPasswordAdded` (`spike admin
/// password add`: one more person who can recover the system when every Keeper is lost) and
/// `AdminPasswordChanged` (`wrap` replaces the admin's earlier one, which no longer counts).
/// One body, two kinds.
public struct AdminPasswordSet<Change: AdminPasswordChange>: EventPayload {
    public static var kind: EventKind { Change.kind }
    public static var sealedFields: [String] { PasswordWrap.sealedFields.map { "wrap." + $0 } }

    public var epoch: UInt32
    public var wrap: PasswordWrap

    public init(epoch: UInt32, wrap: PasswordWrap) {
        self.epoch = epoch
        self.wrap = wrap
    }
}

/// Which change an `AdminPasswordSet` records.
public protocol AdminPasswordChange: Sendable {
    static var kind: EventKind { get }
}

public enum AdminAdded: AdminPasswordChange {
    public static let kind = EventKind(7, "AdminPasswordAdded", .changesState)
}

public enum AdminChanged: AdminPasswordChange {
    public static let kind = EventKind(8, "AdminPasswordChanged", .changesState)
}

public typealias AdminPasswordAdded = AdminPasswordSet<AdminAdded>
public typealias AdminPasswordChanged = AdminPasswordSet<AdminChanged>

/// An admin's wrap no longer counts: that password recovers nothing from here on.
public struct AdminPasswordRemoved: EventPayload {
    public static let kind = EventKind(10, "AdminPasswordRemoved", .changesState)

    public var epoch: UInt32
    public var admin: String
    public var at: Int64

    public init(epoch: UInt32, admin: String, at: Int64) {
        self.epoch = epoch
        self.admin = admin
        self.at = at
    }
}

/// `spike operator recover` took the recovery shards (SPIKE's break-the-glass files) of these
/// share indices. The shards themselves are not in the event: they are the Keepers' shares,
/// already in the log sealed under the data key.
public struct RecoveryShardsExported: EventPayload {
    public static let kind = EventKind(11, "RecoveryShardsExported", .changesState)

    public var epoch: UInt32
    public var shareIndices: [Int]
    public var at: Int64

    public init(epoch: UInt32, shareIndices: [Int], at: Int64) {
        self.epoch = epoch
        self.shareIndices = shareIndices
        self.at = at
    }
}

/// The root key was replaced (`spike operator rotate`): epoch `epoch` opens with a new root key,
/// its own log key pair, every admin's wrap sealed to the new key and new shares for the Keepers
/// (the `ShardDistributed` events of the same transaction), while the data stays: every version
/// key was re-wrapped under the new data key in this transaction. Until the Keepers confirm the
/// new shares, the key table holds `link` (the new key wrapped under the old one): a Nexus that
/// restarts in between unseals from old shares through it. `RootKeyRotationCompleted` shreds it.
public struct RootKeyRotated: EventPayload {
    public static let kind = EventKind(12, "RootKeyRotated", .changesState)
    public static let sealedFields = ["previousKeyCheckValue", "previousKeys"] + EpochStarted.sealedFields.map { "next." + $0 }

    public var fromEpoch: UInt32
    /// The new epoch as a genesis describes one (its log key pair, every admin's wrap sealed to
    /// the new key, its key check value; the Shamir parameters and Keepers unchanged): what
    /// unseals, polls and restores work from.
    public var next: EpochStarted
    /// The old key's check value, to recognize old shares by while the link lasts.
    public var previousKeyCheckValue: Data
    /// Under HKDF(R', "previous keys", epoch): the cipher and event-authentication keys of every
    /// earlier epoch of this chain of rotations (`PreviousKeys`).
    public var previousKeys: Data
    /// The key-table id of the link.
    public var link: Data
    public var at: Int64

    public init(fromEpoch: UInt32, next: EpochStarted, previousKeyCheckValue: Data, previousKeys: Data, link: Data, at: Int64) {
        self.fromEpoch = fromEpoch
        self.next = next
        self.previousKeyCheckValue = previousKeyCheckValue
        self.previousKeys = previousKeys
        self.link = link
        self.at = at
    }

    /// The epoch the rotation opens.
    public var epoch: UInt32 { next.epoch }
}

/// `threshold` Keepers hold the rotated epoch's shares: the link was deleted from the key table
/// in this event's transaction, and the old root key (its shares, its recovery files) opens
/// nothing any more.
public struct RootKeyRotationCompleted: EventPayload {
    public static let kind = EventKind(13, "RootKeyRotationCompleted", .changesState)

    public var epoch: UInt32
    public var link: Data
    public var at: Int64

    public init(epoch: UInt32, link: [UInt8], at: Int64) {
        self.epoch = epoch
        self.link = Data(link)
        self.at = at
    }
}

/// The Nexus came back on a log that a Keeper's witnessed head says has been rolled back: the log
/// ends before the witnessed sequence (`behind`: records were dropped, or an older copy was put
/// back), or its record at that sequence is another (`diverged`). The Nexus serves nothing until
/// an operator accepts the log's head (`LogHeadAccepted`). Links are hex.
public struct RollbackDetected: EventPayload {
    public static let kind = EventKind(0x8000, "RollbackDetected", .informational)

    public enum Finding: String, Codable, Sendable {
        case behind, diverged
    }

    public var finding: Finding
    public var keeper: Int
    public var logSequence: UInt64
    public var logLink: String
    public var witnessedSequence: UInt64
    public var witnessedLink: String
    public var at: Int64

    public init(finding: Finding, keeper: Int, logSequence: UInt64, logLink: String, witnessedSequence: UInt64,
                witnessedLink: String, at: Int64) {
        self.finding = finding
        self.keeper = keeper
        self.logSequence = logSequence
        self.logLink = logLink
        self.witnessedSequence = witnessedSequence
        self.witnessedLink = witnessedLink
        self.at = at
    }

    /// What `/readyz` and the Nexus' output say.
    public var summary: String {
        let log = "the log ends at \(logSequence) (link \(logLink.prefix(16))…)"
        let witnessed = "Keeper \(keeper) witnessed \(witnessedSequence) (link \(witnessedLink.prefix(16))…)"
        return finding == .behind
            ? "log_rollback: \(log) but \(witnessed): records were dropped or an older copy of the log was put back"
            : "log_rollback: \(log) and \(witnessed), another record at that sequence: the log was replaced"
    }
}

/// An operator accepted a log behind or apart from a witnessed head (a restore from a backup,
/// say): `acceptedBy` names who, the heads say what was given up. The Nexus serves again and
/// hands its Keepers the accepted head to witness.
public struct LogHeadAccepted: EventPayload {
    public static let kind = EventKind(0x8001, "LogHeadAccepted", .informational)

    public var logSequence: UInt64
    public var logLink: String
    public var witnessedSequence: UInt64
    public var witnessedLink: String
    public var acceptedBy: String
    public var at: Int64

    public init(logSequence: UInt64, logLink: String, witnessedSequence: UInt64, witnessedLink: String, acceptedBy: String, at: Int64) {
        self.logSequence = logSequence
        self.logLink = logLink
        self.witnessedSequence = witnessedSequence
        self.witnessedLink = witnessedLink
        self.acceptedBy = acceptedBy
        self.at = at
    }
}
