import EventLog
import Foundation

/// The Nexus' lifecycle state as a fold of the log (DESIGN §5): the current epoch's genesis, what
/// was distributed to each Keeper, what each Keeper last answered, and the history of starts,
/// crashes and restores. Pure: `apply` takes events in log order and nothing else.
public struct LifecycleProjection: Equatable, Sendable {
    /// One Keeper as the log knows it.
    public struct Keeper: Equatable, Sendable {
        public var url: String
        /// The sequence of the latest `ShardDistributed` for this Keeper, and its event.
        public var distribution: UInt64?
        public var distributed: ShardDistributed?
        public var lastOutcome: KeeperPollOutcome?
        public var lastPolledAt: Int64?
        /// Polls by outcome, summed over `KeeperPolled` events.
        public var polls: [KeeperPollOutcome: Int] = [:]
        public var rehydrations = 0
    }

    public private(set) var genesis: EpochStarted?
    public private(set) var genesisSequence: UInt64?
    public private(set) var keepers: [Int: Keeper] = [:]
    public private(set) var starts = 0
    public private(set) var crashes = 0
    /// A process that started and has not stopped: its `NexusStarted` and its instance.
    public struct Run: Equatable, Sendable {
        public var sequence: UInt64
        public var instance: String
    }

    /// The start no `NexusStopped` has followed yet, of each replica (by `NexusStarted.lane`).
    public private(set) var running: [String: Run] = [:]

    /// The start of `replica` that has not stopped (or, for a replica's first start on a log
    /// written before replicas had names, the nameless one's): a new start finding it crashed it.
    public func unstoppedStart(of replica: String) -> UInt64? {
        running[replica]?.sequence ?? running[""]?.sequence
    }
    public private(set) var restores = 0
    public private(set) var restoreFailures = 0
    /// Password attempts refused since the root key was last restored (or the epoch opened), and
    /// the time of the last one: what the back-off between attempts is computed from.
    public private(set) var passwordFailures = 0
    public private(set) var lastPasswordFailureAt: Int64?
    /// The admin passwords that recover the current epoch's root key, one wrap each, in the order
    /// they were added: the genesis' as changed by `AdminPassword…` events.
    public private(set) var passwordWraps: [PasswordWrap] = []
    /// The last `RecoveryShardsExported` of the epoch: recovery files older than it may still work
    /// (shards change only with the root key), but they were taken by someone at that time.
    public private(set) var lastShardExport: UInt64?
    /// The rotation that opened the current epoch, if a rotation did (its previous keys, its
    /// previous key check value).
    public private(set) var rotation: RootKeyRotated?
    /// While a rotation waits for the Keepers to hold the new shares: the link's key-table id.
    public private(set) var pendingRotationLink: [UInt8]?
    public private(set) var rotations = 0
    /// Epochs closed by `SystemReset`.
    public private(set) var resets = 0
    /// The sequence of the last lifecycle event folded, and how many were.
    public private(set) var lastSequence: UInt64 = 0
    public private(set) var events = 0

    public init() {}

    public var epoch: UInt32 { genesis?.epoch ?? 0 }
    /// The highest epoch ever opened in this log (closed ones included).
    public private(set) var highestEpoch: UInt32 = 0
    /// The epoch the next `spike init` opens: never one the log has seen, so no key derived
    /// for an earlier epoch is ever derived again.
    public var nextEpoch: UInt32 { highestEpoch + 1 }
    public var isInitialized: Bool { genesis != nil }

    /// Folds one event; events of the data plane are not the lifecycle's and change nothing here.
    public mutating func apply(_ event: DomainEvent, sequence: UInt64) {
        switch event.payload {
        case let genesis as EpochStarted:
            self.genesis = genesis
            genesisSequence = sequence
            highestEpoch = max(highestEpoch, genesis.epoch)
            passwordFailures = 0
            lastPasswordFailureAt = nil
            keepers = Dictionary(uniqueKeysWithValues: genesis.keepers.enumerated().map { ($0.offset + 1, Keeper(url: $0.element)) })
            passwordWraps = genesis.passwordWraps
            lastShardExport = nil
            rotation = nil
            pendingRotationLink = nil
        case let rotated as RootKeyRotated where rotated.fromEpoch == epoch && genesis != nil:
            let next = rotated.next
            genesis = next
            genesisSequence = sequence
            highestEpoch = max(highestEpoch, next.epoch)
            // The Keepers' new shares follow in the same transaction.
            keepers = Dictionary(uniqueKeysWithValues: next.keepers.enumerated().map { ($0.offset + 1, Keeper(url: $0.element)) })
            passwordWraps = next.passwordWraps
            lastShardExport = nil
            rotation = rotated
            pendingRotationLink = Array(rotated.link)
            rotations += 1
        case let completed as RootKeyRotationCompleted where completed.epoch == epoch:
            pendingRotationLink = nil
        case let added as AdminPasswordAdded where added.epoch == epoch:
            passwordWraps.removeAll { $0.admin == added.wrap.admin }
            passwordWraps.append(added.wrap)
        case let changed as AdminPasswordChanged where changed.epoch == epoch:
            if let index = passwordWraps.firstIndex(where: { $0.admin == changed.wrap.admin }) {
                passwordWraps[index] = changed.wrap
            } else {
                passwordWraps.append(changed.wrap)
            }
        case let removed as AdminPasswordRemoved where removed.epoch == epoch:
            passwordWraps.removeAll { $0.admin == removed.admin }
        case let exported as RecoveryShardsExported where exported.epoch == epoch:
            lastShardExport = sequence
        case let reset as SystemReset:
            // The epoch is closed: uninitialized until `spike init` opens the next one.
            if reset.epoch == epoch {
                genesis = nil
                genesisSequence = nil
                keepers = [:]
                passwordWraps = []
                lastShardExport = nil
                rotation = nil
                pendingRotationLink = nil
                resets += 1
            }
        case let started as NexusStarted:
            starts += 1
            if started.previousStartCrashed != nil || unstoppedStart(of: started.lane) != nil { crashes += 1 }
            running[""] = nil
            running[started.lane] = Run(sequence: sequence, instance: started.instance)
        case let stopped as NexusStopped:
            if let lane = running.first(where: { $0.value.instance == stopped.instance })?.key { running[lane] = nil }
        case is RootKeyRestored:
            restores += 1
            passwordFailures = 0
            lastPasswordFailureAt = nil
        case let failed as RootKeyRestoreFailed:
            restoreFailures += 1
            if failed.source == .password {
                passwordFailures += 1
                lastPasswordFailureAt = failed.at ?? lastPasswordFailureAt
            }
        case let distributed as ShardDistributed:
            if distributed.epoch == epoch {
                keepers[distributed.keeper, default: Keeper(url: distributed.keeperURL)].distribution = sequence
                keepers[distributed.keeper]?.distributed = distributed
            }
        case let polled as KeeperPolled:
            guard keepers[polled.keeper] != nil else { break }
            keepers[polled.keeper]?.lastOutcome = polled.outcome
            keepers[polled.keeper]?.lastPolledAt = polled.lastAt
            keepers[polled.keeper]?.polls[polled.outcome, default: 0] += polled.count
        case let rehydrated as KeeperRehydrated:
            keepers[rehydrated.keeper]?.rehydrations += 1
        default:
            return
        }
        lastSequence = sequence
        events += 1
    }
}
