/// What `spike log audit` reports: what happened to the system and in what order, across
/// epochs and resets, with the findings (plain sentences) on top. Built by `AuditTimeline`
/// from the events alone; times are the records' (the Nexus' clock when it wrote them).
public struct AuditReport: Codable, Sendable {
    public struct Finding: Codable, Sendable, Equatable {
        public enum Severity: String, Codable, Sendable { case warning, notice }
        public var at: Timestamp
        public var sequence: UInt64
        public var severity: Severity
        public var text: String
    }

    public struct Epoch: Codable, Sendable {
        public var epoch: UInt32
        public var sequence: UInt64
        public var startedAt: Timestamp
        /// `init` (`spike init`) or `rotation`.
        public var openedBy: String
        public var keepers: [String]
        public var threshold: Int
        public var endedAt: Timestamp?
        /// `reset` or `rotation`; nil while it is the current epoch.
        public var endedBy: String?
    }

    /// One Nexus process, from its `NexusStarted` to its clean stop, or to its last event when a
    /// later start found no stop (a crash).
    public struct Run: Codable, Sendable {
        public enum End: String, Codable, Sendable { case stopped, crashed, running }
        public var instance: String
        /// The replica it ran as (nil in logs written before replicas had names).
        public var replica: String?
        public var sequence: UInt64
        public var startedAt: Timestamp
        public var endedAt: Timestamp?
        public var end: End
        public var reason: String?
    }

    /// A stretch of one lane of the timeline in one state.
    public struct Period: Codable, Sendable {
        public var state: String
        public var from: Timestamp
        public var to: Timestamp
        /// Polls in it (Keeper lanes).
        public var polls: Int?
    }

    /// The system without its root key in memory: from a start of an initialized system until
    /// a restore or a reset (restarts in between do not end it).
    public struct SealedPeriod: Codable, Sendable {
        public var from: Timestamp
        public var to: Timestamp?
        /// `keepers`, `password`, `shards`, `reset`; nil while still sealed.
        public var endedBy: String?
        public var admin: String?
    }

    public struct Rehydration: Codable, Sendable {
        public var at: Timestamp
        public var sequence: UInt64
        public var reason: String
    }

    /// One Nexus replica over time: `running` from each start to its stop or its crash, `down`
    /// in between. The `nexus` lane is the system's: down only while no replica runs.
    public struct ReplicaLane: Codable, Sendable {
        public var replica: String
        public var periods: [Period] = []
    }

    public struct KeeperLane: Codable, Sendable {
        public var keeper: Int
        public var url: String?
        public var periods: [Period] = []
        public var rehydrations: [Rehydration] = []
        public var polls: [String: Int] = [:]
    }

    public struct Restore: Codable, Sendable {
        public var at: Timestamp
        public var sequence: UInt64
        public var source: String
        public var succeeded: Bool
        public var admin: String?
        public var shareIndices: [Int]
        public var reason: String?
    }

    public struct AdminChange: Codable, Sendable {
        public var at: Timestamp
        public var sequence: UInt64
        /// `added`, `changed`, `removed`.
        public var change: String
        public var admin: String
        public var actor: String
    }

    public struct Rotation: Codable, Sendable {
        public var at: Timestamp
        public var sequence: UInt64
        public var fromEpoch: UInt32
        public var toEpoch: UInt32
        public var actor: String
        public var completedAt: Timestamp?
    }

    public struct Reset: Codable, Sendable {
        public var at: Timestamp
        public var sequence: UInt64
        public var epoch: UInt32
        public var reason: String
        public var actor: String
    }

    /// A rollback of the log found by a witnessed head (`RollbackDetected`), or an operator's
    /// acceptance of the log's head over one (`LogHeadAccepted`).
    public struct HeadIncident: Codable, Sendable {
        public var at: Timestamp
        public var sequence: UInt64
        /// `behind`, `diverged`, or `accepted`.
        public var kind: String
        public var logSequence: UInt64
        public var witnessedSequence: UInt64
        public var keeper: Int?
        public var actor: String
    }

    public struct ShardExport: Codable, Sendable {
        public var at: Timestamp
        public var sequence: UInt64
        public var shareIndices: [Int]
        public var actor: String
    }

    /// The refusals of one identity.
    public struct Denials: Codable, Sendable {
        public var actor: String
        public var count: Int
        public var first: Timestamp
        public var last: Timestamp
        /// `operation path` to count, e.g. `secret.get secrets/db`.
        public var requests: [String: Int]
    }

    public var logID: String
    public var head: UInt64
    public var events: Int
    public var first: Timestamp?
    public var last: Timestamp?
    public var findings: [Finding] = []
    public var epochs: [Epoch] = []
    public var runs: [Run] = []
    public var nexus: [Period] = []
    /// One lane per replica, in the order they first started.
    public var replicas: [ReplicaLane] = []
    public var sealedPeriods: [SealedPeriod] = []
    public var keepers: [KeeperLane] = []
    public var restores: [Restore] = []
    public var adminChanges: [AdminChange] = []
    public var rotations: [Rotation] = []
    public var resets: [Reset] = []
    public var shardExports: [ShardExport] = []
    public var headIncidents: [HeadIncident] = []
    public var denials: [Denials] = []
}
