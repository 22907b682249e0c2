import NexusCore
import Projections
import SecretSharing
import Testing

/// Two Nexus replicas on one log, as their lifecycles decide, without any I/O: a shared list of
/// events stands for the log, and each replica's appends go through it as `NexusStore` puts them
/// (after the other replica's events, which the replica folds first; a decision refused when the
/// other appended a decision it had not folded).
@Suite struct ReplicaLifecycleTests {
    typealias Driver = NexusDriverTests
    static let time = NexusTime(wall: 1_800_000_000_000, monotonic: 0)

    /// One log, and how far each replica has folded it.
    struct SharedLog {
        var events: [DomainEvent] = []
        var folded: [String: Int] = [:]
        /// The indices of the events each replica appended.
        var mine: [String: Set<Int>] = [:]

        /// What `replica` has not folded yet, as the store hands it over.
        mutating func unfolded(by replica: String, before end: Int? = nil) -> [LoggedEvent] {
            let from = folded[replica, default: 0], to = end ?? events.count
            folded[replica] = max(from, to)
            return (from..<to).map { LoggedEvent(sequence: UInt64($0 + 1), event: events[$0], rotationLink: nil) }
        }

        /// Carries out `driver`'s effects as the store and the node would; returns the others.
        mutating func drain(_ driver: inout NexusDriver, as replica: String, at time: NexusTime = ReplicaLifecycleTests.time) -> [NexusLifecycle.Action] {
            var others: [NexusLifecycle.Action] = []
            while let effect = driver.nextEffect() {
                switch effect {
                case .append(let appended), .appendDecision(let appended, _):
                    // A decision taken after record `after`: refused if another replica's decision came since.
                    if case .appendDecision(_, let after) = effect,
                       events.indices.contains(where: { $0 >= after && NexusLifecycle.decisionKinds.contains(events[$0].kind.number)
                           && !mine[replica, default: []].contains($0) }) {
                        driver.appendConflicted(after: unfolded(by: replica), at: time)
                        continue
                    }
                    let logged = unfolded(by: replica)
                    mine[replica, default: []].formUnion(events.count..<(events.count + appended.count))
                    events += appended
                    folded[replica] = events.count
                    driver.appendSucceeded(first: UInt64(events.count - appended.count + 1), after: logged, at: time)
                default:
                    others.append(effect)
                }
            }
            return others
        }
    }

    static func replica(_ name: String, _ projection: LifecycleProjection = LifecycleProjection()) -> NexusDriver {
        NexusDriver(NexusLifecycle(configuration: .init(keepers: Driver.keepers, threshold: 2, pollIntervalMillis: 5000,
                                                        nexusID: "spiffe://spike.ist/spike/nexus", instance: "\(name)-1", version: "test",
                                                        replica: name),
                                   projection: projection))
    }

    static func contributions(_ actions: [NexusLifecycle.Action]) -> [Int] {
        actions.compactMap { if case .contribute(let keeper, _, _) = $0 { keeper } else { nil } }
    }

    /// Both replicas ready on one genesis, every Keeper holding its share.
    static func bothReady(_ genesis: EpochGenesis, log: inout SharedLog) throws -> (NexusDriver, NexusDriver) {
        var a = Self.replica("a"), b = Self.replica("b")
        try a.handle(.start, at: time)
        _ = log.drain(&a, as: "a")
        try b.handle(.start, at: time)
        _ = log.drain(&b, as: "b")
        try a.handle(.initialize(genesis, actor: Driver.admin, trail: "init"), at: time)
        _ = log.drain(&a, as: "a")
        for keeper in 1...3 { try a.handle(.contributeCompleted(keeper: keeper, rehydration: nil, succeeded: true), at: time) }
        _ = log.drain(&a, as: "a")
        try b.handle(.logged(log.unfolded(by: "b")), at: time)
        _ = log.drain(&b, as: "b")
        for keeper in 1...2 { try b.handle(.pollCompleted(keeper: keeper, result: .shard(genesis.shares[keeper]!.value), latencyMillis: 1), at: time) }
        _ = log.drain(&b, as: "b")
        #expect(a.machine.isServing && b.machine.isServing)
        return (a, b)
    }

    @Test func aGenesisAnotherReplicaAppendedSealsThisOneAndItsOwnInitIsRefused() throws {
        var log = SharedLog()
        var a = Self.replica("a"), b = Self.replica("b")
        try a.handle(.start, at: Self.time)
        _ = log.drain(&a, as: "a")
        try b.handle(.start, at: Self.time)
        _ = log.drain(&b, as: "b")
        // Both are asked to initialize at once: A's genesis is appended first.
        try a.handle(.initialize(try Driver.genesis(), actor: Driver.admin, trail: "a"), at: Self.time)
        try b.handle(.initialize(try Driver.genesis(), actor: Driver.admin, trail: "b"), at: Self.time)
        _ = log.drain(&a, as: "a")
        let after = log.drain(&b, as: "b")
        #expect(log.events.filter { $0.payload is EpochStarted }.count == 1, "one genesis in the log")
        #expect(b.machine.initializedElsewhere && b.machine.initializationFailure != nil)
        #expect(b.machine.phase == .sealed, "B follows A's genesis: sealed until the Keepers give it the key")
        #expect(after.contains { if case .useEpoch(let genesis) = $0 { genesis.epoch == 1 && genesis.keyCheckValue == a.machine.projection.genesis?.keyCheckValue } else { false } })
        try b.handle(.tick, at: NexusTime(wall: Self.time.wall + 1, monotonic: 1))
        #expect(Driver.polls(log.drain(&b, as: "b")) == [1, 2, 3], "a sealed replica polls for its shares")
    }

    @Test func anEmptyKeeperIsRehydratedOnceByTheReplicaWhoseDecisionIsAppendedFirst() throws {
        let genesis = try Driver.genesis()
        var log = SharedLog()
        var (a, b) = try Self.bothReady(genesis, log: &log)
        // Keeper 2 restarted empty; both replicas' polls find it so before either decides.
        try a.handle(.pollCompleted(keeper: 2, result: .empty, latencyMillis: 1), at: Self.time)
        try b.handle(.pollCompleted(keeper: 2, result: .empty, latencyMillis: 1), at: Self.time)
        let sentByA = Self.contributions(log.drain(&a, as: "a"))
        let sentByB = Self.contributions(log.drain(&b, as: "b"))
        #expect(sentByA == [2] && sentByB == [], "the first decision appended sends the share; the other stands down")
        #expect(log.events.filter { $0.payload is KeeperRehydrated }.count == 1)
        // Its next poll, within the interval, still finds Keeper 2 empty (A's share on its way): B waits.
        try b.handle(.pollCompleted(keeper: 2, result: .empty, latencyMillis: 1), at: NexusTime(wall: Self.time.wall, monotonic: 100))
        #expect(Self.contributions(log.drain(&b, as: "b", at: NexusTime(wall: Self.time.wall, monotonic: 100))).isEmpty)
        #expect(log.events.filter { $0.payload is KeeperRehydrated }.count == 1)
        // A poll interval later the Keeper is B's to repair too, if it is still empty.
        let later = NexusTime(wall: Self.time.wall + 6000, monotonic: 6000)
        try b.handle(.pollCompleted(keeper: 2, result: .empty, latencyMillis: 1), at: later)
        #expect(Self.contributions(log.drain(&b, as: "b", at: later)) == [2])
    }

    /// Both replicas ready; A rotates (its events in the log, the link in the key table) and B
    /// folds the rotation, with the link as the key table gives it (`link` of the rotation).
    static func rotatedByA(link: (RootKeyRotation) -> [UInt8]) throws -> (RootKeyRotation, NexusDriver, [NexusLifecycle.Action]) {
        let genesis = try Driver.genesis()
        var log = SharedLog()
        var (_, b) = try bothReady(genesis, log: &log)
        var generator = SystemRandomNumberGenerator()
        let rotation = try RootKeyRotation.create(from: genesis.rootKey, current: genesis.event, currentRotation: nil, epoch: 2, at: 1,
                                                  using: &generator)
        log.events += [DomainEvent(actor: Driver.admin, trail: "rotate", rotation.event)]
            + rotation.distributions.map { DomainEvent(actor: Driver.admin, trail: "rotate", $0) }
        var logged = log.unfolded(by: "b")
        logged[logged.count - 1 - rotation.distributions.count].rotationLink = link(rotation)
        try b.handle(.logged(logged), at: time)
        return (rotation, b, log.drain(&b, as: "b"))
    }

    @Test func aReplicaFollowsAnotherOnesRotationThroughItsLink() throws {
        let (rotation, b, actions) = try Self.rotatedByA { $0.linkValue }
        guard case .rekeyData(let key, 2)? = actions.first(where: { if case .rekeyData = $0 { true } else { false } }) else {
            Issue.record("B did not move its data to the new key: \(actions)")
            return
        }
        #expect(key.copyBytes() == rotation.rootKey.copyBytes() && b.machine.currentRootKey?.copyBytes() == rotation.rootKey.copyBytes())
        #expect(b.machine.phase == .ready && b.machine.projection.epoch == 2)
        #expect(actions.contains { if case .useEpoch(let next) = $0 { next.epoch == 2 } else { false } })
    }

    @Test func aRotationWhoseLinkDoesNotOpenSealsTheReplica() throws {
        let (_, b, actions) = try Self.rotatedByA { Array(repeating: 7, count: $0.linkValue.count) }
        #expect(actions.contains { if case .lockData = $0 { true } else { false } })
        #expect(b.machine.phase == .sealed && b.machine.currentRootKey == nil, "a key it cannot check is never used")
    }

    @Test func twoRemovalsOfTheLastTwoAdminsLeaveOne() throws {
        let genesis = try Driver.genesis()
        var log = SharedLog()
        var (a, b) = try Self.bothReady(genesis, log: &log)
        var generator = SystemRandomNumberGenerator()
        // Alice is added through A, and B folds it.
        try a.handle(.operatorCommand(.addAdmin("alice"), OperatorRequest(id: 1, actor: Driver.admin, trail: "t1")), at: Self.time)
        _ = log.drain(&a, as: "a")
        try a.handle(.passwordWrapped(request: 1, .success(try PasswordWrap.wrap(genesis.rootKey, password: "alice's long password", admin: "alice",
                                                                                  epoch: 1, cost: .testing, using: &generator))), at: Self.time)
        _ = log.drain(&a, as: "a")
        try b.handle(.logged(log.unfolded(by: "b")), at: Self.time)
        _ = log.drain(&b, as: "b")
        #expect(b.machine.projection.passwordWraps.map(\.admin) == [Driver.admin, "alice"])
        // Each replica is asked to remove a different one of the two, before either appended.
        try a.handle(.operatorCommand(.removeAdmin("alice"), OperatorRequest(id: 2, actor: Driver.admin, trail: "t2")), at: Self.time)
        try b.handle(.operatorCommand(.removeAdmin(Driver.admin), OperatorRequest(id: 3, actor: Driver.admin, trail: "t3")), at: Self.time)
        let answeredA = log.drain(&a, as: "a")
        let answeredB = log.drain(&b, as: "b")
        #expect(answeredA.contains { if case .answerOperator(2, .adminsChanged) = $0 { true } else { false } })
        #expect(answeredB.contains { if case .answerOperator(3, .refused(.lastAdmin(Driver.admin))) = $0 { true } else { false } },
                "decided again on the log as it is, B's removal would leave no admin: \(answeredB)")
        #expect(b.machine.projection.passwordWraps.map(\.admin) == [Driver.admin])
    }

    @Test func eachReplicaCountsItsOwnCrashes() {
        var projection = LifecycleProjection()
        var sequence: UInt64 = 0
        func apply(_ payload: any EventPayload) {
            sequence += 1
            projection.apply(DomainEvent(actor: "spiffe://spike.ist/spike/nexus", trail: "t", payload), sequence: sequence)
        }
        apply(NexusStarted(instance: "a1", version: "v", previousStartCrashed: nil, replica: "a"))
        apply(NexusStarted(instance: "b1", version: "v", previousStartCrashed: nil, replica: "b"))
        #expect(projection.crashes == 0, "B's start is not A's crash")
        apply(NexusStopped(instance: "b1", reason: "signal"))
        #expect(projection.running.keys.sorted() == ["a"])
        apply(NexusStarted(instance: "a2", version: "v", previousStartCrashed: projection.unstoppedStart(of: "a"), replica: "a"))
        #expect(projection.crashes == 1 && projection.running["a"]?.instance == "a2")
        // A log written before replicas had names: its nameless start is the named one's predecessor.
        var legacy = LifecycleProjection()
        legacy.apply(DomainEvent(actor: "n", trail: "t", NexusStarted(instance: "old", version: "v", previousStartCrashed: nil)), sequence: 1)
        #expect(legacy.unstoppedStart(of: "nexus") == 1)
    }
}
