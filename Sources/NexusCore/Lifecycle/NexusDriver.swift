import Projections

/// Runs a `NexusLifecycle` against effects it does not carry out itself: the one sequencing of
/// inputs, actions and their results that `spike nexus` and the simulator share, so that neither
/// re-implements what follows an append, what a failed one means, or in which order actions run.
///
/// An adapter feeds an input with `handle`, then carries out every effect `nextEffect` gives, in
/// order, until it gives nil, before it feeds the next input. An `.append` (and `.appendDecision`,
/// the rotation's `.appendRotation` and `.completeRotation`, appends too) must be reported
/// (`appendSucceeded`, `appendFailed`, or for a decision `appendConflicted`) before `nextEffect`
/// gives anything more: what the machine decides on a durable append runs before the actions
/// that came after it. On a log other replicas share, a report carries what they appended before
/// it, and `.logged` what they appended since; the machine folds them in log order. `.poll` and
/// `.contribute` are sent and come back later as inputs; `.unlockData` is reported only if it
/// fails (`dataRefused`). A value type with no I/O.
public struct NexusDriver: Sendable {
    public enum Input: Sendable {
        case start
        case tick
        case pollCompleted(keeper: Int, result: NexusLifecycle.PollResult, latencyMillis: Int64)
        case contributeCompleted(keeper: Int, rehydration: NexusLifecycle.Rehydration?, succeeded: Bool)
        case initialize(EpochGenesis, actor: String, trail: String)
        case dataRefused(String)
        /// The witness check found the log rolled back (`LogWitnessCheck`).
        case logRolledBack(RollbackDetected)
        /// An operator accepted the log's head over a witnessed one.
        case logHeadAccepted(LogHeadAccepted, actor: String)
        case stop(reason: String)
        /// `spike recover` offers a password (kept by the adapter until `unwrapPassword`).
        case passwordAttempt(actor: String, trail: String)
        /// What the adapter's unwrap gave: the key and whose wrap opened, or nil.
        case passwordUnwrapped(RootKey?, admin: String?)
        /// An operator command (recovery shards, admins).
        case operatorCommand(OperatorCommand, OperatorRequest)
        /// What the adapter's `prepareRotation` made.
        case rotationPrepared(request: UInt64, Result<RootKeyRotation, OperatorRefusal>)
        /// A refusal the data store could not record (it is locked).
        case refusal(AccessDenied, actor: String, trail: String)
        /// What the adapter's wrap for an admin change gave.
        case passwordWrapped(request: UInt64, Result<PasswordWrap, OperatorRefusal>)
        /// Events other replicas appended, in log order (`NexusLifecycle.folded`).
        case logged([LoggedEvent])
    }

    public private(set) var machine: NexusLifecycle
    private var queue: [NexusLifecycle.Action] = []
    private var inFlight: [DomainEvent]?

    public init(_ machine: NexusLifecycle) {
        self.machine = machine
    }

    /// Feeds one input. Throws what the machine refuses outright (an `initialize` when the
    /// system is initialized already); nothing is queued then.
    public mutating func handle(_ input: Input, at time: NexusTime) throws(LifecycleError) {
        precondition(inFlight == nil, "an input arrived while an append was in flight: report the append first")
        let actions: [NexusLifecycle.Action]
        switch input {
        case .start: actions = machine.start(at: time)
        case .tick: actions = machine.tick(at: time)
        case .pollCompleted(let keeper, let result, let latency):
            actions = machine.pollCompleted(keeper: keeper, result: result, latencyMillis: latency, at: time)
        case .contributeCompleted(let keeper, let rehydration, let succeeded):
            actions = machine.contributeCompleted(keeper: keeper, rehydration: rehydration, succeeded: succeeded, at: time)
        case .initialize(let genesis, let actor, let trail):
            actions = try machine.initialize(genesis, actor: actor, trail: trail)
        case .dataRefused(let reason):
            machine.dataRefused(reason)
            actions = []
        case .logRolledBack(let finding): actions = machine.logRolledBack(finding)
        case .logHeadAccepted(let acceptance, let actor): actions = machine.logHeadAccepted(acceptance, actor: actor)
        case .stop(let reason): actions = machine.stop(at: time, reason: reason)
        case .passwordAttempt(let actor, let trail): actions = machine.beginPasswordAttempt(actor: actor, trail: trail, at: time)
        case .passwordUnwrapped(let key, let admin): actions = machine.passwordUnwrapped(key, admin: admin, at: time)
        case .operatorCommand(let command, let request): actions = machine.operatorCommand(command, request, at: time)
        case .passwordWrapped(let request, let wrap): actions = machine.passwordWrapped(request: request, wrap)
        case .refusal(let denied, let actor, let trail): actions = machine.recordRefusal(denied, actor: actor, trail: trail)
        case .rotationPrepared(let request, let rotation): actions = machine.rotationPrepared(request: request, rotation)
        case .logged(let logged): actions = machine.folded(logged, at: time)
        }
        queue += actions
    }

    /// The next effect to carry out, or nil: nothing left, or an append not yet reported.
    public mutating func nextEffect() -> NexusLifecycle.Action? {
        guard inFlight == nil else { return nil }
        var next: NexusLifecycle.Action?
        while next == nil, !queue.isEmpty { next = current(queue.removeFirst()) }
        guard let action = next else { return nil }
        switch action {
        case .append(let events), .appendDecision(let events, _), .appendRotation(let events, _, _), .completeRotation(let events, _, _):
            inFlight = events
        default: break
        }
        return action
    }

    /// An effect decided before the machine folded a later epoch (another replica's rotation,
    /// folded when an append came back) would take the data back to the old keys: it gets the
    /// keys of the epoch now folded, or is dropped when the machine holds none.
    private func current(_ action: NexusLifecycle.Action) -> NexusLifecycle.Action? {
        let epoch = machine.projection.epoch
        switch action {
        case .useEpoch(let genesis) where genesis.epoch < epoch:
            return nil
        case .unlockData(_, let stale) where stale < epoch, .rekeyData(_, let stale) where stale < epoch:
            guard machine.phase == .ready, let key = machine.currentRootKey else { return nil }
            if case .unlockData = action { return .unlockData(rootKey: key, epoch: epoch) }
            return .rekeyData(rootKey: key, epoch: epoch)
        default:
            return action
        }
    }

    /// The append in flight is durable from sequence `first` on; `logged` are the other replicas'
    /// events before it that the machine has not folded yet.
    public mutating func appendSucceeded(first: UInt64, after logged: [LoggedEvent] = [], at time: NexusTime) {
        guard let events = inFlight else { preconditionFailure("no append in flight") }
        inFlight = nil
        precondition(logged.allSatisfy { $0.sequence < first }, "another replica's events come before this append's")
        let folded = machine.folded(logged, at: time)
        queue.insert(contentsOf: folded + machine.appended(events, first: first, at: time), at: 0)
    }

    /// The decision in flight was not appended: other replicas appended `logged` (decisions among
    /// them) first. The machine folds them and decides again.
    public mutating func appendConflicted(after logged: [LoggedEvent], at time: NexusTime) {
        guard let events = inFlight else { preconditionFailure("no append in flight") }
        inFlight = nil
        let folded = machine.folded(logged, at: time)
        queue.insert(contentsOf: folded + machine.appendConflicted(events, at: time), at: 0)
    }

    /// The append in flight was refused; nothing of it is in the log.
    public mutating func appendFailed(_ reason: String, at time: NexusTime) {
        guard let events = inFlight else { preconditionFailure("no append in flight") }
        inFlight = nil
        queue.insert(contentsOf: machine.appendFailed(events, reason: reason, at: time), at: 0)
    }

    /// Whether every effect has been carried out.
    public var isIdle: Bool { inFlight == nil && queue.isEmpty }
}
