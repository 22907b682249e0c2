/// What `/readyz` shows the superuser: the phase, the shares in hand against the threshold, each
/// Keeper's last outcome, and, while not ready, why (anyone else: `withoutDetail`). The server fills it from its lifecycle machine;
/// `spike dev status` and the test harnesses read it.
public struct NexusStatus: Codable, Equatable, Sendable {
    /// The lifecycle's phase, as on the wire.
    public enum State: String, Codable, Sendable {
        case uninitialized, sealed, ready
    }

    public struct Keeper: Codable, Equatable, Sendable {
        public var index: Int
        public var url: String
        /// The last poll's outcome: `has-shard`, `empty`, `unreachable`, `refused`, `error`.
        public var lastOutcome: String?
        public var lastPolledAt: String?
        public var detail: String?

        public init(index: Int, url: String, lastOutcome: String?, lastPolledAt: String?, detail: String?) {
            self.index = index
            self.url = url
            self.lastOutcome = lastOutcome
            self.lastPolledAt = lastPolledAt
            self.detail = detail
        }
    }

    /// How far this Nexus has folded the log: its replica name, the last record folded, the
    /// head known to be committed (other replicas' records beyond the position are not folded
    /// yet), and for how long it has been behind.
    public struct Log: Codable, Equatable, Sendable {
        public var replica: String
        public var position: UInt64
        public var head: UInt64
        public var behindSeconds: Double?

        public init(replica: String, position: UInt64, head: UInt64, behindSeconds: Double?) {
            self.replica = replica
            self.position = position
            self.head = head
            self.behindSeconds = behindSeconds
        }
    }

    public var state: State
    public var ready: Bool
    public var epoch: UInt32
    public var sharesInHand: Int
    public var threshold: Int
    public var keepers: [Keeper]
    public var reason: String?
    public var log: Log?

    /// What `/readyz` shows a caller other than the superuser: the state and whether it serves,
    /// no Keeper, count or reason.
    public var withoutDetail: NexusStatus {
        NexusStatus(state: state, ready: ready, epoch: 0, sharesInHand: 0, threshold: 0, keepers: [], reason: nil)
    }

    public static let starting = NexusStatus(state: .sealed, ready: false, epoch: 0, sharesInHand: 0, threshold: 0, keepers: [],
                                             reason: "starting")

    public init(state: State, ready: Bool, epoch: UInt32, sharesInHand: Int, threshold: Int, keepers: [Keeper], reason: String?, log: Log? = nil) {
        self.log = log
        self.state = state
        self.ready = ready
        self.epoch = epoch
        self.sharesInHand = sharesInHand
        self.threshold = threshold
        self.keepers = keepers
        self.reason = reason
    }
}
