import Projections
import SecretSharing

/// The decisions of the Nexus' root-key lifecycle, with no I/O (DESIGN §2, §6): it is told what
/// happened (a start, a command, a poll answer, a clock reading, an append that became durable or
/// failed, the data refusing the log) and answers with everything to do (events to append,
/// requests to send, the log's epoch, the data to unlock or lock, the process to stop). The same
/// value runs in `spike nexus` and in the deterministic simulator, through one `NexusDriver`.
///
/// Phases: `uninitialized` until `spike init`; `sealed` after a start until `threshold` Keepers
/// gave shares whose combination matches the genesis' key check value; `ready` after that.
/// Keepers are polled every `pollInterval` forever (ADR-0022); once ready, an empty Keeper, or
/// one holding a share other than its distributed one, gets the distributed share again.
public struct NexusLifecycle: Sendable {
    public struct Configuration: Sendable {
        /// Keeper URLs; position = share index.
        public var keepers: [String]
        /// Shamir threshold for a new genesis (a started system uses its genesis' parameters).
        public var threshold: Int
        public var pollIntervalMillis: Int64
        public var summaryIntervalMillis: Int64
        /// The Nexus' own SPIFFE ID: the actor of the events it decides by itself.
        public var nexusID: String
        /// This process (a random id) and its version, for `NexusStarted`.
        public var instance: String
        public var version: String
        /// The replica this process runs as (its lane in the log: starts and crashes are counted
        /// per replica); nil writes nameless starts, as before replicas.
        public var replica: String?
        /// The wait after the free wrong passwords (`freePasswordAttempts`), doubling with each
        /// further one; one second (tests that must see a refusal within it on a loaded machine
        /// make it longer).
        public var firstPasswordWaitMillis: Int64 = 1000

        public init(keepers: [String], threshold: Int, pollIntervalMillis: Int64 = 5000, summaryIntervalMillis: Int64 = 60_000,
                    nexusID: String, instance: String, version: String, replica: String? = nil) {
            self.keepers = keepers
            self.threshold = threshold
            self.pollIntervalMillis = pollIntervalMillis
            self.summaryIntervalMillis = summaryIntervalMillis
            self.nexusID = nexusID
            self.instance = instance
            self.version = version
            self.replica = replica
        }
    }

    public enum Phase: String, Equatable, Sendable {
        case uninitialized, sealed, ready
    }

    /// What a poll of `/v1/store/shard` came back with.
    public enum PollResult: Sendable {
        case shard([UInt8])
        case empty
        case unreachable(String)
        case refused(String)
        case error(String)

        public var outcome: KeeperPollOutcome {
            switch self {
            case .shard: .hasShard
            case .empty: .empty
            case .unreachable: .unreachable
            case .refused: .refused
            case .error: .error
            }
        }

        public var detail: String? {
            switch self {
            case .shard, .empty: nil
            case .unreachable(let why), .refused(let why), .error(let why): why
            }
        }
    }

    /// A share sent again, and why; nil for the first distribution.
    public struct Rehydration: Equatable, Sendable {
        public var distribution: UInt64
        public var reason: RehydrationReason
    }

    public enum Action: Sendable {
        /// Append these events in one transaction, then report `appended` (or `appendFailed`).
        case append([DomainEvent])
        /// Append these events only if no other replica has appended a decision (`decisionKinds`)
        /// after record `after` (the last this machine had folded when it decided); report
        /// `appended`, `appendFailed`, or `appendConflicted` with what the other replica appended.
        /// Only one of two replicas deciding the same thing (a genesis, a rehydration, an admin
        /// change) gets it into the log.
        case appendDecision([DomainEvent], after: UInt64)
        /// POST `/v1/store/shard` to Keeper `keeper`, then report `pollCompleted`.
        case poll(keeper: Int)
        /// POST the share to the Keeper's `/v1/store/contribute`, then report `contributeCompleted`.
        case contribute(keeper: Int, share: Shamir.Share, rehydration: Rehydration?)
        /// Seal the log's new segments to this epoch's public key (besides the audit keys), and
        /// write its records under its number, from the next append on.
        case useEpoch(EpochStarted)
        /// The root key is in memory: check the data's authenticators and open it under the
        /// keys of `epoch`; report `dataRefused` if the log does not authenticate.
        case unlockData(rootKey: RootKey, epoch: UInt32)
        /// Forget the data's keys (the process is stopping, or another replica closed the epoch).
        case lockData
        /// Another replica rotated the root key: the data's keys are those of `epoch`, derived
        /// from `rootKey`, from now on (the data store locked itself when it folded the rotation).
        case rekeyData(rootKey: RootKey, epoch: UInt32)
        /// The process cannot go on (its start could not be recorded): end it with this reason.
        case exit(String)
        /// A password attempt may go on: unwrap the root key from one of these wraps with the
        /// caller's password (scrypt, off the loop), then report `passwordUnwrapped`.
        case unwrapPassword(wraps: [PasswordWrap], epoch: UInt32)
        /// Tell the caller of the password attempt how it ended.
        case answerPasswordAttempt(PasswordAttemptOutcome)
        /// Wrap this root key under the password the adapter holds for operator request
        /// `request` (scrypt, off the loop), then report `passwordWrapped`.
        case wrapPassword(request: UInt64, admin: String, rootKey: RootKey, epoch: UInt32)
        /// Tell the operator who sent request `request` how it ended.
        case answerOperator(request: UInt64, OperatorOutcome)
        /// Make a rotation of `rootKey` (the current epoch `current`, opened by `currentRotation`
        /// if a rotation did) into `epoch` (`RootKeyRotation.create`), then report `rotationPrepared`.
        case prepareRotation(request: UInt64, rootKey: RootKey, current: EpochStarted, currentRotation: RootKeyRotated?, epoch: UInt32)
        /// Append the rotation's events through the data store, which re-wraps every version key
        /// and puts the link in the same transaction (an append: report `appended` or `appendFailed`).
        case appendRotation([DomainEvent], RootKeyRotation, after: UInt64)
        /// Append these events with the link deleted from the key table in their transaction (an
        /// append, and a decision: another replica may have completed the rotation first).
        case completeRotation([DomainEvent], link: [UInt8], after: UInt64)
    }

    /// The kinds of event that are decisions rather than observations: an append of a decision
    /// is refused (`appendConflicted`) when another replica appended one of these meanwhile, so
    /// that it is decided again on the log as it now is. Starts, stops, polls and restores are
    /// observations: each replica records its own.
    public static let decisionKinds: Set<UInt16> = [
        EpochStarted.kind, SystemReset.kind, AdminPasswordAdded.kind, AdminPasswordChanged.kind, AdminPasswordRemoved.kind,
        RootKeyRotated.kind, RootKeyRotationCompleted.kind, ShardDistributed.kind, KeeperRehydrated.kind,
    ].reduce(into: []) { $0.insert($1.number) }

    /// How a `spike recover` attempt ended.
    public enum PasswordAttemptOutcome: Equatable, Sendable {
        /// The root key is back (from `admin`'s wrap): the Nexus is ready, its Keepers re-seeded.
        case restored(admin: String)
        /// No wrap opens with that password; the failure is in the log.
        case wrongPassword
        /// Only a sealed Nexus recovers: a ready one has its key, an uninitialized one has none.
        case notSealed(Phase)
        /// Too many wrong passwords: the next attempt may come after this many milliseconds.
        case tooSoon(retryAfterMillis: Int64)
        /// Another attempt is being checked.
        case busy
    }

    /// Wrong passwords allowed before attempts are spaced out, and the longest wait between
    /// attempts (the wait doubles with each further failure, from `firstPasswordWaitMillis`).
    public static let freePasswordAttempts = 5
    public static let maxPasswordBackoffMillis: Int64 = 3_600_000

    public let configuration: Configuration
    public private(set) var projection: LifecycleProjection
    public private(set) var phase: Phase
    public private(set) var ledger: KeeperPollLedger
    private var rootKey: RootKey?
    /// Shares in hand while sealed, by Keeper index.
    private var collected: [Int: Shamir.Share] = [:]
    /// Distributed shares opened while ready, by Keeper index, with their event's sequence.
    private var openedShares: [Int: (UInt64, Shamir.Share)] = [:]
    private var lastFailedCombination: [Int]?
    private var pendingGenesis: EpochGenesis?
    /// Events whose append failed, to be appended again at `retryAt` (monotonic).
    private var unwritten: [DomainEvent] = []
    private var retryAt: Int64 = 0
    /// How long a refused append waits before it is tried again: a full disk is not retried in
    /// a busy loop.
    public static let appendRetryMillis: Int64 = 1000
    /// The caller of the password attempt being checked.
    private var passwordAttempt: (actor: String, trail: String)?
    /// Recovery shards offered by `spike operator restore` while sealed, by share index.
    private var offeredShards: [Int: Shamir.Share] = [:]
    /// The admin change waiting for its password wrap.
    private var adminChange: (request: OperatorRequest, command: OperatorCommand)?
    /// The rotation being made, and its new key once it is prepared.
    private var rotationRequest: OperatorRequest?
    private var preparedRotation: RootKeyRotation?
    /// While a rotation waits for the Keepers: the link (the new key under the old), to unseal
    /// from old shares; and the Keepers that hold the new shares.
    private var rotationLink: [UInt8]?
    private var rotationConfirmed: Set<Int>?
    private var completingRotation = false
    /// Whether recovery files were exported in the epoch the rotation being made closes.
    private var exportedBeforeRotation = false
    /// When a completion the log refused may be tried again (monotonic).
    private var completionRetryAt: Int64 = 0
    /// Operator requests answered once their event is durable, in the order of their appends.
    private var awaitingAppend: [(request: UInt64, outcome: OperatorOutcome)] = []
    private var polling: Set<Int> = []
    /// Keepers a share is on its way to, and the epoch of that share: an old epoch's share that
    /// arrives after a rotation confirms nothing.
    private var sending: [Int: UInt32] = [:]
    /// Rehydrations decided and not yet in the log (`KeeperRehydrated` is appended first, as a
    /// decision: of two replicas that found a Keeper empty, the one whose event is appended first
    /// sends the share, the other stands down), by Keeper; `lost` once another's was folded.
    private var claims: [Int: (share: Shamir.Share, rehydration: Rehydration, lost: Bool)] = [:]
    /// By Keeper: an answer to a poll sent before this (monotonic) is no reason to send the
    /// Keeper its share, which may have arrived after the answer left. This Nexus' own share: from
    /// when it arrived; another replica's (its `KeeperRehydrated`, a genesis or a rotation it
    /// made, folded here): from a poll interval after it was seen, time for it to arrive.
    private var shareSentUntil: [Int: Int64] = [:]
    /// When each Keeper's poll in flight was sent, and when the last one answered was (monotonic).
    private var pollSentAt: [Int: Int64] = [:]
    private var answeredPollSentAt: [Int: Int64] = [:]
    /// On the monotonic clock.
    private var nextPollAt: Int64 = .max
    /// Set once `stop` ran: nothing more is decided.
    private var stopped = false
    /// Why the data refused the log it was folded from, once it did: the Nexus then serves
    /// nothing, whatever its phase (the root key is right; the log is not).
    public private(set) var refusal: String?
    /// Why the last `initialize` did not take (its genesis could not be appended, or another
    /// replica's genesis was appended first: `initializedElsewhere`).
    public private(set) var initializationFailure: String?
    public private(set) var initializedElsewhere = false
    /// After `spike init`, the Keepers that have confirmed their share; nil once `threshold` of
    /// them have (or when the root key came any other way). Until then the Nexus holds R but does
    /// not serve: a crash before the shares are out would leave the system to the password alone.
    public private(set) var confirmedShares: Set<Int>?

    /// A Nexus whose log folds to `projection`; `rotationLink` is the key table's entry of a
    /// rotation that has not completed (`projection.pendingRotationLink`).
    public init(configuration: Configuration, projection: LifecycleProjection, rotationLink: [UInt8]? = nil) {
        self.configuration = configuration
        self.projection = projection
        self.rotationLink = projection.pendingRotationLink == nil ? nil : rotationLink
        phase = projection.isInitialized ? .sealed : .uninitialized
        ledger = KeeperPollLedger(summaryIntervalMillis: configuration.summaryIntervalMillis)
    }

    public var threshold: Int { projection.genesis?.threshold ?? configuration.threshold }
    public var keeperCount: Int { projection.genesis?.shares ?? configuration.keepers.count }
    public var sharesInHand: Int { phase == .ready ? threshold : collected.count }
    /// While sealed: the Keepers whose shares are in hand (a share stays in hand after its
    /// Keeper stops answering: it was genuine when it came).
    public var shareIndicesInHand: [Int] { collected.keys.sorted() }
    /// The root key while ready; nil otherwise. Callers derive what they need and keep no copy.
    public var currentRootKey: RootKey? { rootKey }

    // MARK: - Inputs

    /// Whether the Nexus serves: the root key is in memory, the log authenticated, and after a
    /// `spike init`, `threshold` Keepers hold their shares.
    public var isServing: Bool { phase == .ready && refusal == nil && confirmedShares == nil }

    /// The process started: record it (and the crash of the previous one, if it never stopped).
    public mutating func start(at time: NexusTime) -> [Action] {
        let started = NexusStarted(instance: configuration.instance, version: configuration.version,
                                   previousStartCrashed: projection.unstoppedStart(of: configuration.replica ?? ""),
                                   replica: configuration.replica)
        var actions: [Action] = []
        if let genesis = projection.genesis {
            nextPollAt = time.monotonic
            actions.append(.useEpoch(genesis))
        }
        // Another replica runs on this log: a share it is sending may arrive after this start's
        // first polls left, and their answers are no reason to send one.
        if projection.running.keys.contains(where: { !$0.isEmpty && $0 != configuration.replica }) { sharesSentElsewhere(at: time) }
        return actions + [.append([event(started)])] + tick(at: time)
    }

    /// `spike init`: the genesis made from the admin's password. Refused unless uninitialized.
    public mutating func initialize(_ genesis: EpochGenesis, actor: String, trail: String) throws(LifecycleError) -> [Action] {
        guard phase == .uninitialized, pendingGenesis == nil, !stopped else { throw .alreadyInitialized }
        guard genesis.event.keepers.count == configuration.keepers.count else {
            throw .keeperCountMismatch(configured: configuration.keepers.count, genesis: genesis.event.keepers.count)
        }
        pendingGenesis = genesis
        initializationFailure = nil
        initializedElsewhere = false
        let events = [DomainEvent(actor: actor, trail: trail, genesis.event)]
            + genesis.distributions.map { DomainEvent(actor: actor, trail: trail, $0) }
        return [.useEpoch(genesis.event), decision(events)]
    }

    /// Events from an `.append` are durable at sequences `first…`: fold them, and act on a
    /// genesis that is now in the log.
    public mutating func appended(_ events: [DomainEvent], first: UInt64, at time: NexusTime) -> [Action] {
        for (offset, event) in events.enumerated() {
            projection.apply(event, sequence: first + UInt64(offset))
        }
        // A rehydration this replica decided is its own now: the share goes out.
        if let rehydrated = events.lazy.compactMap({ $0.payload as? KeeperRehydrated }).first,
           let claim = claims.removeValue(forKey: rehydrated.keeper) {
            return [.contribute(keeper: rehydrated.keeper, share: claim.share, rehydration: claim.rehydration)]
        }
        if events.contains(where: { $0.payload is RootKeyRotated }), let rotation = preparedRotation, let request = rotationRequest {
            return rotated(rotation, request)
        }
        if events.contains(where: { $0.payload is RootKeyRotationCompleted }) {
            completingRotation = false
            rotationConfirmed = nil
            if rotationLink != nil { Shamir.zero(&rotationLink!) }
            rotationLink = nil
            return []
        }
        if events.contains(where: Self.answersAnOperator), !awaitingAppend.isEmpty {
            let (request, outcome) = awaitingAppend.removeFirst()
            return [.answerOperator(request: request, outcome)]
        }
        guard let genesis = pendingGenesis, events.contains(where: { $0.payload is EpochStarted }) else {
            return []
        }
        pendingGenesis = nil
        rootKey = genesis.rootKey
        phase = .ready
        confirmedShares = []
        // The first polls come one interval later: a Keeper whose share did not arrive answers
        // empty then and is sent it again.
        nextPollAt = time.monotonic + configuration.pollIntervalMillis
        return [.unlockData(rootKey: genesis.rootKey, epoch: genesis.event.epoch)] + genesis.shares.keys.sorted().map { keeper in
            sending[keeper] = genesis.event.epoch
            return .contribute(keeper: keeper, share: genesis.shares[keeper]!, rehydration: nil)
        }
    }

    /// An `.append` failed: nothing of it is in the log. A start that cannot be recorded ends the
    /// process (a Nexus whose starts are not in the log would make its crashes invisible); a
    /// genesis that failed is forgotten, and `spike init` may be tried again; anything else is
    /// kept and appended again a little later, so that the log still accounts for every poll,
    /// restore and rehydration.
    public mutating func appendFailed(_ events: [DomainEvent], reason: String, at time: NexusTime) -> [Action] {
        if events.contains(where: { $0.payload is NexusStarted }) {
            return [.exit("the log refused this start's NexusStarted record: \(reason)")]
        }
        if events.contains(where: { $0.payload is EpochStarted }) {
            pendingGenesis = nil
            initializationFailure = reason
            return []
        }
        // A log that takes nothing cannot decide which replica rehydrates: the share goes out all
        // the same (any replica would send the same one), and the event is recorded when the log
        // takes appends again. A Keeper is not left empty for as long as a disk is full.
        if let rehydrated = events.lazy.compactMap({ $0.payload as? KeeperRehydrated }).first,
           let claim = claims.removeValue(forKey: rehydrated.keeper) {
            if !stopped {
                unwritten += events
                retryAt = time.monotonic + Self.appendRetryMillis
            }
            return [.contribute(keeper: rehydrated.keeper, share: claim.share, rehydration: claim.rehydration)]
        }
        // An operator's event that is not in the log did not happen: say so, never retry it
        // behind the operator's back (an export not recorded hands out no shards).
        if events.contains(where: Self.answersAnOperator), !awaitingAppend.isEmpty {
            let (request, _) = awaitingAppend.removeFirst()
            return [.answerOperator(request: request, .refused(.logFailed(reason)))]
        }
        // A rotation that is not in the log did not happen: the old key goes on.
        if events.contains(where: { $0.payload is RootKeyRotated }), let request = rotationRequest {
            rotationRequest = nil
            preparedRotation = nil
            return [.answerOperator(request: request.id, .refused(.logFailed(reason)))]
        }
        // The completion is tried again a little later, at a tick.
        if events.contains(where: { $0.payload is RootKeyRotationCompleted }) {
            completingRotation = false
            completionRetryAt = time.monotonic + Self.appendRetryMillis
            return []
        }
        if !stopped {
            unwritten += events
            retryAt = time.monotonic + Self.appendRetryMillis
        }
        return []
    }

    /// `spike recover`: an admin's password is offered for a sealed Nexus. Allowed, it goes on
    /// to `unwrapPassword`; refused, the caller is answered at once. After
    /// `freePasswordAttempts` wrong passwords, attempts are spaced out by a wait that doubles
    /// with each failure; the failures are in the log, so a restart does not reset it.
    public mutating func beginPasswordAttempt(actor: String, trail: String, at time: NexusTime) -> [Action] {
        guard phase == .sealed, !stopped, let genesis = projection.genesis else {
            return [.answerPasswordAttempt(.notSealed(phase))]
        }
        guard passwordAttempt == nil else { return [.answerPasswordAttempt(.busy)] }
        if let wait = passwordBackoff(at: time.wall) { return [.answerPasswordAttempt(.tooSoon(retryAfterMillis: wait))] }
        passwordAttempt = (actor, trail)
        return [.unwrapPassword(wraps: projection.passwordWraps, epoch: genesis.epoch)]
    }

    /// How long the next password attempt must wait (nil: it may go now).
    public func passwordBackoff(at wall: Int64) -> Int64? {
        let failures = projection.passwordFailures
        guard failures >= Self.freePasswordAttempts, let last = projection.lastPasswordFailureAt else { return nil }
        let doublings = min(failures - Self.freePasswordAttempts, 22)
        let wait = min(configuration.firstPasswordWaitMillis << doublings, Self.maxPasswordBackoffMillis)
        let remaining = last + wait - wall
        return remaining > 0 ? remaining : nil
    }

    /// The password attempt's scrypt is done: `key` is what `admin`'s wrap opened to, or nil when
    /// no wrap opened. A key that does not match the key check value is refused like a wrong
    /// password (and never used).
    public mutating func passwordUnwrapped(_ key: RootKey?, admin: String?, at time: NexusTime) -> [Action] {
        guard let (actor, trail) = passwordAttempt else { return [] }
        passwordAttempt = nil
        guard phase == .sealed, !stopped, let genesis = projection.genesis else {
            return [.answerPasswordAttempt(.notSealed(phase))]
        }
        guard let key, let admin, key.matches(keyCheckValue: Array(genesis.keyCheckValue)) else {
            let failed = RootKeyRestoreFailed(source: .password, shareIndices: [],
                                              reason: "the password offered does not unwrap the root key", at: time.wall)
            return [.append([DomainEvent(actor: actor, trail: trail, failed)]), .answerPasswordAttempt(.wrongPassword)]
        }
        let restored = DomainEvent(actor: actor, trail: trail, RootKeyRestored(source: .password, shareIndices: [], admin: admin))
        return becomeReady(with: key, restored: restored, epoch: genesis.epoch, at: time) + [.answerPasswordAttempt(.restored(admin: admin))]
    }

    /// An operator command (see `OperatorCommand`). Refusals are answered at once; an export and
    /// an admin change once their event is durable.
    public mutating func operatorCommand(_ command: OperatorCommand, _ request: OperatorRequest, at time: NexusTime) -> [Action] {
        guard !stopped else { return [.answerOperator(request: request.id, .refused(.stopping))] }
        if case .restoreShard(let share) = command { return restore(share, request, at: time) }
        guard isServing, let rootKey, let genesis = projection.genesis else {
            return [.answerOperator(request: request.id, .refused(.notServing))]
        }
        let admins = projection.passwordWraps.map(\.admin)
        switch command {
        case .restoreShard:
            preconditionFailure("handled above")
        case .rotate:
            guard rotationRequest == nil, projection.pendingRotationLink == nil else {
                return [.answerOperator(request: request.id, .refused(.rotationPending))]
            }
            guard adminChange == nil else { return [.answerOperator(request: request.id, .refused(.busy))] }
            rotationRequest = request
            exportedBeforeRotation = projection.lastShardExport != nil
            // The admins as they are now, not as the genesis named them: each one's wrap moves.
            var current = genesis
            current.passwordWraps = projection.passwordWraps
            return [.prepareRotation(request: request.id, rootKey: rootKey, current: current, currentRotation: projection.rotation,
                                     epoch: projection.nextEpoch)]
        case .listAdmins:
            return [.answerOperator(request: request.id, .admins(projection.passwordWraps.map { AdminSummary(name: $0.admin, at: $0.at) }))]
        case .exportShards:
            var shares: [Shamir.Share] = []
            for keeper in 1...keeperCount {
                guard let (_, share) = distributedShare(keeper) else {
                    return [.answerOperator(request: request.id, .refused(.logFailed("the share distributed to Keeper \(keeper) cannot be opened")))]
                }
                shares.append(share)
            }
            awaitingAppend.append((request.id, .shards(shares)))
            let exported = RecoveryShardsExported(epoch: genesis.epoch, shareIndices: shares.map { Int($0.index) }, at: time.wall)
            return [decision([DomainEvent(actor: request.actor, trail: request.trail, exported)])]
        case .addAdmin(let name), .changeAdmin(let name):
            guard adminChange == nil, rotationRequest == nil else { return [.answerOperator(request: request.id, .refused(.busy))] }
            if case .addAdmin = command, admins.contains(name) { return [.answerOperator(request: request.id, .refused(.adminExists(name)))] }
            if case .changeAdmin = command, !admins.contains(name) { return [.answerOperator(request: request.id, .refused(.unknownAdmin(name)))] }
            adminChange = (request, command)
            return [.wrapPassword(request: request.id, admin: name, rootKey: rootKey, epoch: genesis.epoch)]
        case .removeAdmin(let name):
            guard adminChange == nil, rotationRequest == nil else { return [.answerOperator(request: request.id, .refused(.busy))] }
            guard admins.contains(name) else { return [.answerOperator(request: request.id, .refused(.unknownAdmin(name)))] }
            guard admins.count > 1 else { return [.answerOperator(request: request.id, .refused(.lastAdmin(name)))] }
            awaitingAppend.append((request.id, .adminsChanged))
            let removed = AdminPasswordRemoved(epoch: genesis.epoch, admin: name, at: time.wall)
            return [decision([DomainEvent(actor: request.actor, trail: request.trail, removed)])]
        }
    }

    /// The wrap for the admin change of `request` is made (nil: it could not be, for `reason`).
    public mutating func passwordWrapped(request: UInt64, _ result: Result<PasswordWrap, OperatorRefusal>) -> [Action] {
        guard let (operatorRequest, command) = adminChange, operatorRequest.id == request else { return [] }
        adminChange = nil
        guard !stopped else { return [.answerOperator(request: request, .refused(.stopping))] }
        guard isServing, let genesis = projection.genesis else { return [.answerOperator(request: request, .refused(.notServing))] }
        let wrap: PasswordWrap
        switch result {
        case .success(let made): wrap = made
        case .failure(let refusal): return [.answerOperator(request: request, .refused(refusal))]
        }
        let payload: any EventPayload = if case .addAdmin = command {
            AdminPasswordAdded(epoch: genesis.epoch, wrap: wrap)
        } else {
            AdminPasswordChanged(epoch: genesis.epoch, wrap: wrap)
        }
        awaitingAppend.append((request, .adminsChanged))
        return [decision([DomainEvent(actor: operatorRequest.actor, trail: operatorRequest.trail, payload)])]
    }

    /// The rotation of `request` is made (or could not be): append it, through the data store.
    public mutating func rotationPrepared(request: UInt64, _ result: Result<RootKeyRotation, OperatorRefusal>) -> [Action] {
        guard let operatorRequest = rotationRequest, operatorRequest.id == request else { return [] }
        guard !stopped, isServing, let genesis = projection.genesis else {
            rotationRequest = nil
            return [.answerOperator(request: request, .refused(stopped ? .stopping : .notServing))]
        }
        let rotation: RootKeyRotation
        switch result {
        case .success(let made): rotation = made
        case .failure(let refusal):
            rotationRequest = nil
            return [.answerOperator(request: request, .refused(refusal))]
        }
        precondition(rotation.event.fromEpoch == genesis.epoch, "a rotation is made from the current epoch")
        preparedRotation = rotation
        let events = [DomainEvent(actor: operatorRequest.actor, trail: operatorRequest.trail, rotation.event)]
            + rotation.distributions.map { DomainEvent(actor: operatorRequest.actor, trail: operatorRequest.trail, $0) }
        return [.appendRotation(events, rotation, after: projection.lastSequence)]
    }

    /// A rotation is durable: the new key is the key, the Keepers are sent the new shares, and
    /// the link stays until `threshold` of them confirm.
    private mutating func rotated(_ rotation: RootKeyRotation, _ request: OperatorRequest) -> [Action] {
        rotationRequest = nil
        preparedRotation = nil
        rootKey = rotation.rootKey
        for key in openedShares.keys { Shamir.zero(&openedShares[key]!.1.value) }
        openedShares.removeAll()
        rotationLink = rotation.linkValue
        rotationConfirmed = []
        var actions: [Action] = [.answerOperator(request: request.id, .rotated(epoch: rotation.event.epoch, shardsExportedBefore: exportedBeforeRotation))]
        for keeper in rotation.shares.keys.sorted() where sending[keeper] == nil {
            sending[keeper] = rotation.event.epoch
            actions.append(.contribute(keeper: keeper, share: rotation.shares[keeper]!, rehydration: nil))
        }
        return actions
    }

    /// Once `threshold` Keepers hold the rotated shares, the link is shredded.
    private mutating func completeRotationIfConfirmed(at time: NexusTime) -> [Action] {
        guard let confirmed = rotationConfirmed, confirmed.count >= threshold, !completingRotation, !stopped,
              time.monotonic >= completionRetryAt, let link = projection.pendingRotationLink else { return [] }
        completingRotation = true
        return [.completeRotation([event(RootKeyRotationCompleted(epoch: projection.epoch, link: link, at: time.wall))], link: link,
                                  after: projection.lastSequence)]
    }

    /// `spike operator restore`: one recovery shard for a sealed Nexus. Once `threshold` are in
    /// hand they are combined and checked against the key check value: a match makes the Nexus
    /// ready; a mismatch is recorded and every shard offered is dropped.
    private mutating func restore(_ shard: Shamir.Share, _ request: OperatorRequest, at time: NexusTime) -> [Action] {
        guard phase == .sealed, let genesis = projection.genesis else {
            return [.answerOperator(request: request.id, .refused(.notSealed(phase)))]
        }
        let index = Int(shard.index)
        guard (1...keeperCount).contains(index) else {
            return [.answerOperator(request: request.id, .refused(.shareIndexOutOfRange(index, shares: keeperCount)))]
        }
        // A shard already in hand is not replaced (SPIKE answers the status unchanged).
        if offeredShards[index] == nil { offeredShards[index] = shard }
        guard offeredShards.count >= genesis.threshold else {
            return [.answerOperator(request: request.id, .shardCollected(collected: offeredShards.count,
                                                                          remaining: genesis.threshold - offeredShards.count))]
        }
        let indices = offeredShards.keys.sorted()
        let collected = indices.count
        let key = reconstruct(indices.map { offeredShards[$0]! })
        forgetOfferedShards()
        guard let key else {
            let failed = RootKeyRestoreFailed(source: .shards, shareIndices: indices,
                                              reason: "the recovery shards \(indices) do not match the key check value", at: time.wall)
            return [.append([DomainEvent(actor: request.actor, trail: request.trail, failed)]),
                    .answerOperator(request: request.id, .refused(.wrongShards(indices)))]
        }
        let restored = DomainEvent(actor: request.actor, trail: request.trail, RootKeyRestored(source: .shards, shareIndices: indices))
        return becomeReady(with: key, restored: restored, epoch: genesis.epoch, at: time) + [.answerOperator(request: request.id, .restored(collected: collected))]
    }

    /// A caller was refused while the data store cannot record it (sealed, or not serving yet):
    /// the refusal is recorded all the same; the log takes events in every phase.
    public mutating func recordRefusal(_ denied: AccessDenied, actor: String, trail: String) -> [Action] {
        guard !stopped else { return [] }
        return [.append([DomainEvent(actor: actor, trail: trail, denied)])]
    }

    /// The data refused the log when the root key came back (an event it was folded from is not
    /// authentic): the Nexus goes on polling and repairing its Keepers, and serves nothing.
    public mutating func dataRefused(_ reason: String) {
        refusal = reason
    }

    /// The log contradicts a head a Keeper witnessed: it is recorded, and the Nexus serves nothing
    /// (it goes on polling, and hands its Keepers no head, so they keep the evidence) until an
    /// operator accepts the log's head at a start.
    public mutating func logRolledBack(_ finding: RollbackDetected) -> [Action] {
        guard !stopped else { return [] }
        refusal = finding.summary
        return [.append([event(finding)])]
    }

    /// An operator accepted this log's head over a witnessed one: recorded, and served.
    public mutating func logHeadAccepted(_ acceptance: LogHeadAccepted, actor: String) -> [Action] {
        guard !stopped else { return [] }
        return [.append([DomainEvent(actor: actor, trail: "accept-log-head", acceptance)])]
    }

    /// The clock moved: poll the Keepers when due, write the poll summaries that are due and what
    /// failed to be appended before.
    public mutating func tick(at time: NexusTime) -> [Action] {
        guard !stopped else { return [] }
        var actions: [Action] = []
        if phase != .uninitialized, time.monotonic >= nextPollAt {
            for keeper in 1...keeperCount where !polling.contains(keeper) {
                polling.insert(keeper)
                pollSentAt[keeper] = time.monotonic
                actions.append(.poll(keeper: keeper))
            }
            nextPollAt = time.monotonic + configuration.pollIntervalMillis
        }
        var due = ledger.due(at: time).map { event($0) }
        if !unwritten.isEmpty, time.monotonic >= retryAt {
            due = unwritten + due
            unwritten = []
        }
        if !due.isEmpty { actions.insert(.append(due), at: 0) }
        return actions + completeRotationIfConfirmed(at: time)
    }

    /// The next monotonic time at which `tick` has something to do.
    public func nextDeadline() -> Int64 {
        min(nextPollAt, ledger.nextSummaryAt ?? .max, unwritten.isEmpty ? .max : retryAt)
    }

    /// Polls recorded and not yet in the log: pending in the ledger, or in summaries whose append
    /// failed and waits to be retried.
    public var pollsNotInLog: Int {
        ledger.pending + unwritten.reduce(0) { $0 + (($1.payload as? KeeperPolled)?.count ?? 0) }
    }

    /// A poll of Keeper `keeper` came back.
    public mutating func pollCompleted(keeper: Int, result: PollResult, latencyMillis: Int64, at time: NexusTime) -> [Action] {
        polling.remove(keeper)
        answeredPollSentAt[keeper] = pollSentAt.removeValue(forKey: keeper) ?? time.monotonic
        guard !stopped, (1...keeperCount).contains(keeper) else { return [] }
        var actions: [Action] = []
        let polled = ledger.record(keeper: keeper, outcome: result.outcome, latencyMillis: latencyMillis, detail: result.detail, at: time)
        if !polled.isEmpty { actions.append(.append(polled.map { event($0) })) }
        switch phase {
        case .uninitialized:
            break
        case .sealed:
            if case .shard(let value) = result {
                collected[keeper] = Shamir.Share(index: UInt8(keeper), value: value)
                actions += tryToRestore(at: time)
            }
        case .ready:
            if case .shard(let value) = result, let (_, share) = distributedShare(keeper), value == share.value { confirm(keeper) }
            actions += repair(keeper: keeper, result: result) + completeRotationIfConfirmed(at: time)
        }
        return actions
    }

    /// A share sent to `keeper` arrived (`succeeded`) or not. A rehydration's event is in the log
    /// already (it was the decision to send); one that did not arrive is decided again after the
    /// next poll.
    public mutating func contributeCompleted(keeper: Int, rehydration: Rehydration?, succeeded: Bool, at time: NexusTime) -> [Action] {
        let epoch = sending.removeValue(forKey: keeper)
        guard !stopped, succeeded else { return [] }
        shareSentUntil[keeper] = max(shareSentUntil[keeper] ?? .min, time.monotonic)
        if epoch == projection.epoch { confirm(keeper) }
        return completeRotationIfConfirmed(at: time)
    }

    /// Events other replicas appended (read from the shared log, in log order, none of this
    /// machine's own): folded, and acted on. A genesis makes an uninitialized Nexus sealed (it
    /// polls for its shares); a rotation moves a ready one to the new key through the rotation's
    /// link, or seals it when the link cannot be opened; a reset closes the epoch; another's
    /// rehydration of a Keeper makes this one stand down.
    public mutating func folded(_ logged: [LoggedEvent], at time: NexusTime) -> [Action] {
        var actions: [Action] = []
        for entry in logged {
            projection.apply(entry.event, sequence: entry.sequence)
            guard !stopped else { continue }
            switch entry.event.payload {
            case let genesis as EpochStarted where phase == .uninitialized && projection.genesis == genesis:
                phase = .sealed
                nextPollAt = time.monotonic
                // The replica that made it sends the shares.
                sharesSentElsewhere(at: time)
                actions.append(.useEpoch(genesis))
            case let rotated as RootKeyRotated where projection.rotation == rotated:
                actions += followRotation(rotated, link: entry.rotationLink, at: time)
            case is RootKeyRotationCompleted where projection.pendingRotationLink == nil:
                rotationConfirmed = nil
                if rotationLink != nil { Shamir.zero(&rotationLink!) }
                rotationLink = nil
            case let reset as SystemReset where !projection.isInitialized && reset.epoch == projection.highestEpoch:
                let wasReady = phase == .ready
                phase = .uninitialized
                rootKey = nil
                nextPollAt = .max
                forgetShares()
                forgetOfferedShards()
                for key in openedShares.keys { Shamir.zero(&openedShares[key]!.1.value) }
                openedShares.removeAll()
                if wasReady { actions.append(.lockData) }
            case let rehydrated as KeeperRehydrated:
                shareSentUntil[rehydrated.keeper] = max(shareSentUntil[rehydrated.keeper] ?? .min, time.monotonic + configuration.pollIntervalMillis)
                if claims[rehydrated.keeper]?.rehydration.distribution == rehydrated.distribution { claims[rehydrated.keeper]?.lost = true }
            default:
                break
            }
        }
        return actions
    }

    /// Another replica rotated the root key. Ready: the new key is opened from the link with the
    /// key in hand, checked against the new key check value, and the data re-keyed; a link that
    /// does not open seals this Nexus (it gets the key back from the Keepers). Sealed: shares
    /// now combine through the link.
    private mutating func followRotation(_ rotated: RootKeyRotated, link: [UInt8]?, at time: NexusTime) -> [Action] {
        // The rotating replica sends the new shares: a Keeper still holding its old one is not
        // this replica's to repair before then.
        sharesSentElsewhere(at: time)
        for key in openedShares.keys { Shamir.zero(&openedShares[key]!.1.value) }
        openedShares.removeAll()
        if rotationLink != nil { Shamir.zero(&rotationLink!) }
        rotationLink = link
        lastFailedCombination = nil
        guard phase == .ready, let old = rootKey else { return [.useEpoch(rotated.next)] }
        if let link, let key = try? RootKeyRotation.openLink(link, oldKey: old, epoch: rotated.epoch),
           key.matches(keyCheckValue: Array(rotated.next.keyCheckValue)) {
            rootKey = key
            // The rotating replica completes it; this one does too if it outlives that one.
            rotationConfirmed = []
            return [.useEpoch(rotated.next), .rekeyData(rootKey: key, epoch: rotated.epoch)]
        }
        rootKey = nil
        phase = .sealed
        nextPollAt = time.monotonic
        return [.lockData, .useEpoch(rotated.next)]
    }

    /// Another replica is sending every Keeper its share (a genesis, a rotation): for a poll
    /// interval none is repaired from here.
    private mutating func sharesSentElsewhere(at time: NexusTime) {
        for keeper in 1...keeperCount { shareSentUntil[keeper] = max(shareSentUntil[keeper] ?? .min, time.monotonic + configuration.pollIntervalMillis) }
    }

    /// A decision (`appendDecision`, `completeRotation`) was not appended: another replica
    /// appended a decision first, and what it appended has been folded (`folded`). Each is
    /// decided again on the log as it is now: dropped when the other's makes it moot, refused to
    /// the operator when it no longer holds, appended again otherwise.
    public mutating func appendConflicted(_ events: [DomainEvent], at time: NexusTime) -> [Action] {
        guard !stopped else { return appendFailed(events, reason: "the Nexus is stopping", at: time) }
        if events.contains(where: { $0.payload is EpochStarted }) {
            guard !projection.isInitialized else {
                pendingGenesis = nil
                initializedElsewhere = true
                initializationFailure = "another Nexus replica initialized the system first"
                return []
            }
            return [decision(events)]
        }
        if let rehydrated = events.lazy.compactMap({ $0.payload as? KeeperRehydrated }).first {
            // The other replica sends the share: this one stands down.
            guard let claim = claims[rehydrated.keeper], !claim.lost, phase == .ready,
                  projection.keepers[rehydrated.keeper]?.distribution == rehydrated.distribution else {
                claims[rehydrated.keeper] = nil
                sending[rehydrated.keeper] = nil
                return []
            }
            return [decision(events)]
        }
        if events.contains(where: { $0.payload is RootKeyRotationCompleted }) {
            completingRotation = false
            // Completed by another replica, or still to complete (tried again at a tick).
            if projection.pendingRotationLink == nil { rotationConfirmed = nil }
            return completeRotationIfConfirmed(at: time)
        }
        if events.contains(where: Self.answersAnOperator), let (request, _) = awaitingAppend.first {
            // An admin change or an export: still what the operator asked for, on the admins as they are now?
            awaitingAppend.removeFirst()
            guard isServing, let genesis = projection.genesis else { return [.answerOperator(request: request, .refused(.notServing))] }
            let admins = projection.passwordWraps.map(\.admin)
            for payload in events.map(\.payload) {
                let refusal: OperatorRefusal? = switch payload {
                case let added as AdminPasswordAdded where added.epoch != genesis.epoch: .busy
                case let added as AdminPasswordAdded where admins.contains(added.wrap.admin): .adminExists(added.wrap.admin)
                case let changed as AdminPasswordChanged where changed.epoch != genesis.epoch: .busy
                case let changed as AdminPasswordChanged where !admins.contains(changed.wrap.admin): .unknownAdmin(changed.wrap.admin)
                case let removed as AdminPasswordRemoved where !admins.contains(removed.admin): .unknownAdmin(removed.admin)
                case let removed as AdminPasswordRemoved where admins == [removed.admin]: .lastAdmin(removed.admin)
                case let exported as RecoveryShardsExported where exported.epoch != genesis.epoch: .busy
                default: nil
                }
                if let refusal { return [.answerOperator(request: request, .refused(refusal))] }
            }
            awaitingAppend.insert((request, .adminsChanged), at: 0)
            return [decision(events)]
        }
        return [decision(events)]
    }

    /// A clean stop: the pending poll summaries and `NexusStopped`. The root key is dropped.
    public mutating func stop(at time: NexusTime, reason: String) -> [Action] {
        guard !stopped else { return [] }
        stopped = true
        forgetShares()
        forgetOfferedShards()
        if rotationLink != nil { Shamir.zero(&rotationLink!) }
        rotationLink = nil
        for key in openedShares.keys { Shamir.zero(&openedShares[key]!.1.value) }
        openedShares.removeAll()
        for key in claims.keys { Shamir.zero(&claims[key]!.share.value) }
        claims.removeAll()
        rootKey = nil
        let summaries = unwritten + ledger.flush(at: time).map { event($0) }
        unwritten = []
        return [.append(summaries + [event(NexusStopped(instance: configuration.instance, reason: reason))]), .lockData]
    }

    // MARK: - Decisions

    /// With `threshold` shares in hand, tries every combination of them (smallest indices
    /// first) against the key check value; a match makes the Nexus ready.
    private mutating func tryToRestore(at time: NexusTime) -> [Action] {
        guard let genesis = projection.genesis, collected.count >= genesis.threshold else { return [] }
        precondition(phase == .sealed, "shares are combined only while sealed")
        let indices = collected.keys.sorted()
        for subset in Self.combinations(of: indices, size: genesis.threshold) {
            precondition(subset.count >= genesis.threshold, "never combine fewer than threshold shares")
            guard let key = reconstruct(subset.map { collected[$0]! }) else { continue }
            return becomeReady(with: key, restored: event(RootKeyRestored(source: .keepers, shareIndices: subset)), epoch: genesis.epoch, at: time)
        }
        guard lastFailedCombination != indices else { return [] }
        lastFailedCombination = indices
        // The shares stay in hand: a later poll may replace a wrong one.
        return [.append([event(RootKeyRestoreFailed(
            source: .keepers, shareIndices: indices,
            reason: "no \(genesis.threshold) of the shares from Keepers \(indices) match the key check value"))])]
    }

    /// The root key of `threshold` shares, checked against the key check value. While a rotation
    /// waits for its Keepers, the old key's shares open the new key through the link.
    private func reconstruct(_ shares: [Shamir.Share]) -> RootKey? {
        guard let genesis = projection.genesis else { return nil }
        if let key = try? RootKey.combine(shares, threshold: genesis.threshold, keyCheckValue: Array(genesis.keyCheckValue)) {
            return key
        }
        guard let link = rotationLink, let rotation = projection.rotation, projection.pendingRotationLink != nil,
              let old = try? RootKey.combine(shares, threshold: genesis.threshold, keyCheckValue: Array(rotation.previousKeyCheckValue)),
              let key = try? RootKeyRotation.openLink(link, oldKey: old, epoch: rotation.epoch),
              key.matches(keyCheckValue: Array(genesis.keyCheckValue)) else { return nil }
        return key
    }

    /// The root key is back and checked: ready, the data unlocked, and Keepers already seen empty
    /// or holding another share repaired now rather than one interval later.
    private mutating func becomeReady(with key: RootKey, restored: DomainEvent, epoch: UInt32, at time: NexusTime) -> [Action] {
        rootKey = key
        phase = .ready
        // A rotation still waiting: it completes once threshold Keepers hold its shares.
        if projection.pendingRotationLink != nil { rotationConfirmed = [] }
        var actions: [Action] = [.append([restored]), .unlockData(rootKey: key, epoch: epoch)]
        for keeper in 1...keeperCount {
            if let share = collected[keeper] {
                actions += repair(keeper: keeper, result: .shard(share.value))
            } else if ledger.runs[keeper]?.outcome == .empty {
                actions += repair(keeper: keeper, result: .empty)
            }
        }
        forgetShares()
        forgetOfferedShards()
        return actions
    }

    /// While ready: sends the distributed share again to a Keeper that is empty or holds
    /// another share.
    private mutating func repair(keeper: Int, result: PollResult) -> [Action] {
        guard sending[keeper] == nil, let (sequence, share) = distributedShare(keeper) else { return [] }
        let reason: RehydrationReason
        switch result {
        case .empty: reason = .empty
        case .shard(let value) where value != share.value: reason = .mismatch
        default: return []
        }
        // An answer to a poll that left before a share was sent says nothing of that share.
        if let until = shareSentUntil[keeper], answeredPollSentAt[keeper] ?? .min < until { return [] }
        sending[keeper] = projection.epoch
        let rehydration = Rehydration(distribution: sequence, reason: reason)
        claims[keeper] = (share, rehydration, false)
        return [decision([event(KeeperRehydrated(keeper: keeper, distribution: sequence, reason: reason))])]
    }

    /// The share last distributed to `keeper`, opened with the root key (kept while ready, so
    /// a poll does not derive keys).
    private mutating func distributedShare(_ keeper: Int) -> (UInt64, Shamir.Share)? {
        guard let record = projection.keepers[keeper], let sequence = record.distribution else { return nil }
        if let cached = openedShares[keeper], cached.0 == sequence { return cached }
        guard let rootKey, let genesis = projection.genesis, let distributed = record.distributed,
              let share = try? SealedShard.open(distributed.sealedShard, index: UInt8(keeper), rootKey: rootKey, epoch: genesis.epoch)
        else { return nil }
        openedShares[keeper] = (sequence, share)
        return (sequence, share)
    }

    /// `keeper` holds its distributed share: after `spike init`, the Nexus serves once
    /// `threshold` Keepers do.
    private mutating func confirm(_ keeper: Int) {
        rotationConfirmed?.insert(keeper)
        guard var confirmed = confirmedShares else { return }
        confirmed.insert(keeper)
        confirmedShares = confirmed.count >= threshold ? nil : confirmed
    }

    private mutating func forgetShares() {
        for key in collected.keys { Shamir.zero(&collected[key]!.value) }
        collected.removeAll()
    }

    private mutating func forgetOfferedShards() {
        for key in offeredShards.keys { Shamir.zero(&offeredShards[key]!.value) }
        offeredShards.removeAll()
    }

    /// Events an operator waits for (`awaitingAppend`), each appended on its own.
    private static func answersAnOperator(_ event: DomainEvent) -> Bool {
        event.payload is RecoveryShardsExported || event.payload is AdminPasswordAdded
            || event.payload is AdminPasswordChanged || event.payload is AdminPasswordRemoved
    }

    /// Events to append as a decision taken on the log as folded so far.
    private func decision(_ events: [DomainEvent]) -> Action {
        .appendDecision(events, after: projection.lastSequence)
    }

    private func event(_ payload: any EventPayload) -> DomainEvent {
        DomainEvent(actor: configuration.nexusID, trail: configuration.instance, payload)
    }

    /// The `size`-element subsets of `items`, in lexicographic order.
    static func combinations(of items: [Int], size: Int) -> [[Int]] {
        guard size > 0 else { return [[]] }
        guard items.count >= size else { return [] }
        var result: [[Int]] = []
        for (offset, item) in items.enumerated() {
            for rest in combinations(of: Array(items[(offset + 1)...]), size: size - 1) {
                result.append([item] + rest)
            }
        }
        return result
    }
}

/// A command the lifecycle refuses.
public enum LifecycleError: Error, Equatable, Sendable, CustomStringConvertible {
    case alreadyInitialized
    case keeperCountMismatch(configured: Int, genesis: Int)
    /// At a start: the log's genesis shares the root key among other Keepers than configured.
    case keeperPeersDifferFromGenesis(configured: Int, genesis: [String])

    public var description: String {
        switch self {
        case .alreadyInitialized: "the system is already initialized (or an initialization is under way)"
        case .keeperCountMismatch(let configured, let genesis):
            "SPIKE_NEXUS_KEEPER_PEERS names \(configured) Keepers but the genesis shares the root key among \(genesis)"
        case .keeperPeersDifferFromGenesis(let configured, let genesis):
            "SPIKE_NEXUS_KEEPER_PEERS names \(configured) Keepers but this system's genesis shares the root key among "
                + "\(genesis.count): name all \(genesis.count), in the genesis' order (share 1 first: \(genesis.joined(separator: ","))), "
                + "and set SPIKE_NEXUS_SHAMIR_SHARES=\(genesis.count); a Keeper may move to another URL, but not go missing"
        }
    }
}
