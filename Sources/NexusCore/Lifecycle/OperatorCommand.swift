import Projections
import SecretSharing

/// An operator's request to the lifecycle: who asked, and an id the answer carries back
/// (`NexusLifecycle.Action.answerOperator`), since answers may come in another order than the
/// requests (an export waits for its event to be durable; a refusal does not).
public struct OperatorRequest: Equatable, Sendable {
    public var id: UInt64
    public var actor: String
    public var trail: String

    public init(id: UInt64, actor: String, trail: String) {
        self.id = id
        self.actor = actor
        self.trail = trail
    }
}

/// What an operator asks of the root key's lifecycle, besides `spike init` and `spike recover`.
public enum OperatorCommand: Equatable, Sendable {
    /// `spike operator recover`: the recovery shards of a ready Nexus.
    case exportShards
    /// `spike operator restore`: one recovery shard for a sealed Nexus.
    case restoreShard(Shamir.Share)
    /// `spike admin password add|change`: `admin`'s password (held by the adapter) wraps the
    /// root key; the adapter makes the wrap when asked (`wrapPassword`).
    case addAdmin(String)
    case changeAdmin(String)
    case removeAdmin(String)
    case listAdmins
    /// `spike operator rotate`: a new root key and epoch; the data stays (ADR-0009).
    case rotate
}

/// How an operator command ended.
public enum OperatorOutcome: Equatable, Sendable {
    /// The recovery shards, by share index; their export is in the log.
    case shards([Shamir.Share])
    /// A shard was taken (or was in hand already); `remaining` more are needed.
    case shardCollected(collected: Int, remaining: Int)
    /// The shards combined to the root key: the Nexus is ready, its Keepers being re-seeded.
    case restored(collected: Int)
    /// The admin's change is in the log.
    case adminsChanged
    /// The admins whose passwords recover the root key, with when each wrap was made.
    case admins([AdminSummary])
    /// The root key was rotated into `epoch`; recovery files exported before are worthless once
    /// the Keepers hold the new shares (`shardsExportedBefore`: there were some).
    case rotated(epoch: UInt32, shardsExportedBefore: Bool)
    case refused(OperatorRefusal)
}

/// One admin as `spike admin password list` shows it: a name and a date, never a wrap.
public struct AdminSummary: Equatable, Sendable {
    public var name: String
    /// Milliseconds since 1970; nil for a wrap written before dates were recorded.
    public var at: Int64?

    public init(name: String, at: Int64?) {
        self.name = name
        self.at = at
    }
}

/// Why an operator command was refused. Nothing changed.
public enum OperatorRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    /// The command needs a Nexus that holds its root key and serves.
    case notServing
    /// Restoring is for a sealed Nexus only (SPIKE accepts shards while ready and overwrites its key).
    case notSealed(NexusLifecycle.Phase)
    /// A share index outside 1…(number of shares).
    case shareIndexOutOfRange(Int, shares: Int)
    /// The shards collected do not combine to the root key (the attempt is in the log, the shards
    /// are dropped: start again with the right ones).
    case wrongShards([Int])
    case adminExists(String)
    case unknownAdmin(String)
    /// The last admin's password is the only way back when every Keeper is lost.
    case lastAdmin(String)
    /// Another admin change is being made.
    case busy
    /// The password could not be wrapped.
    case wrapFailed(String)
    /// The log refused the command's event: nothing was done.
    case logFailed(String)
    /// The last rotation waits for the Keepers to hold its shares (or another is being made).
    case rotationPending
    /// The rotation could not be made (an admin's wrap cannot move, …).
    case rotationImpossible(String)
    /// The Nexus is stopping.
    case stopping

    public var description: String {
        switch self {
        case .notServing: "the Nexus does not hold its root key (or does not serve yet)"
        case .notSealed(let phase): "the Nexus is \(phase.rawValue), not sealed: there is nothing to restore"
        case .shareIndexOutOfRange(let index, let shares): "share index \(index) is outside 1…\(shares)"
        case .wrongShards(let indices): "the shards \(indices) do not combine to this system's root key"
        case .adminExists(let name): "an admin named \(name) exists already (change their password instead)"
        case .unknownAdmin(let name): "there is no admin named \(name)"
        case .lastAdmin(let name): "\(name) is the last admin: add another before removing them"
        case .busy: "another admin change is being made: try again"
        case .wrapFailed(let why): "the password could not wrap the root key: \(why)"
        case .logFailed(let why): "the log refused the event: \(why)"
        case .stopping: "the Nexus is stopping"
        case .rotationPending: "a rotation is under way: the Keepers do not all hold its shares yet"
        case .rotationImpossible(let why): "the root key cannot be rotated: \(why)"
        }
    }
}
