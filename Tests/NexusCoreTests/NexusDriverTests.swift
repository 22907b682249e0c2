import NexusCore
import Projections
import SecretSharing
import Testing

/// The driver and the machine's decisions on failures and clocks, without any I/O.
@Suite struct NexusDriverTests {
    static let keepers = ["https://k1", "https://k2", "https://k3"]
    static let admin = "spiffe://spike.ist/spike/pilot/role/superuser"

    static func machine(_ projection: LifecycleProjection = LifecycleProjection()) -> NexusLifecycle {
        NexusLifecycle(configuration: .init(keepers: keepers, threshold: 2, pollIntervalMillis: 5000, nexusID: "spiffe://spike.ist/spike/nexus",
                                            instance: "test", version: "test"),
                       projection: projection)
    }

    static func genesis() throws -> EpochGenesis {
        var generator = SystemRandomNumberGenerator()
        return try EpochGenesis.create(epoch: 1, keepers: keepers, threshold: 2, password: "correct horse battery", admin: admin,
                                       cost: .testing, using: &generator)
    }

    /// A projection of a log holding a genesis and its distributions.
    static func initialized(_ genesis: EpochGenesis) -> LifecycleProjection {
        var projection = LifecycleProjection()
        let events = [DomainEvent(actor: admin, trail: "t", genesis.event)] + genesis.distributions.map { DomainEvent(actor: admin, trail: "t", $0) }
        for (offset, event) in events.enumerated() { projection.apply(event, sequence: UInt64(offset + 1)) }
        return projection
    }

    /// Carries out effects as a perfect world would: every append succeeds; returns the rest.
    static func drain(_ driver: inout NexusDriver, log: inout [DomainEvent], at time: NexusTime,
                      failAppends: Bool = false) -> [NexusLifecycle.Action] {
        var others: [NexusLifecycle.Action] = []
        while let effect = driver.nextEffect() {
            if let events = appended(effect) {
                if failAppends {
                    driver.appendFailed("disk full", at: time)
                } else {
                    log += events
                    driver.appendSucceeded(first: UInt64(log.count - events.count + 1), at: time)
                }
            } else {
                others.append(effect)
            }
        }
        return others
    }

    /// The events of an append (a decision too: one replica, nobody else decides).
    static func appended(_ action: NexusLifecycle.Action) -> [DomainEvent]? {
        switch action {
        case .append(let events), .appendDecision(let events, _): events
        default: nil
        }
    }

    static func polls(_ actions: [NexusLifecycle.Action]) -> [Int] {
        actions.compactMap { if case .poll(let keeper) = $0 { keeper } else { nil } }
    }

    @Test func aWallClockSteppedBackDoesNotStallPolling() throws {
        var driver = NexusDriver(Self.machine(Self.initialized(try Self.genesis())))
        var log: [DomainEvent] = []
        let start = NexusTime(wall: 1_800_000_000_000, monotonic: 0)
        try driver.handle(.start, at: start)
        let first = Self.drain(&driver, log: &log, at: start)
        #expect(Self.polls(first) == [1, 2, 3])
        if case .useEpoch(let epoch) = first.first { #expect(epoch.epoch == 1) } else { Issue.record("no useEpoch first: \(first)") }
        for keeper in 1...3 {
            try driver.handle(.pollCompleted(keeper: keeper, result: .empty, latencyMillis: 1), at: start)
            _ = Self.drain(&driver, log: &log, at: start)
        }
        #expect(driver.machine.nextDeadline() == 5000)
        // An hour back on the wall clock, five seconds on the monotonic one: polls are due.
        let later = NexusTime(wall: start.wall - 3_600_000, monotonic: 5000)
        try driver.handle(.tick, at: later)
        #expect(Self.polls(Self.drain(&driver, log: &log, at: later)) == [1, 2, 3])
    }

    @Test func aStartTheLogRefusesEndsTheProcess() throws {
        var driver = NexusDriver(Self.machine())
        var log: [DomainEvent] = []
        try driver.handle(.start, at: NexusTime(wall: 0, monotonic: 0))
        let rest = Self.drain(&driver, log: &log, at: NexusTime(wall: 0, monotonic: 0), failAppends: true)
        guard case .exit(let reason) = rest.last else { Issue.record("no exit: \(rest)"); return }
        #expect(reason.contains("NexusStarted") && reason.contains("disk full"))
        #expect(log.isEmpty)
    }

    @Test func aGenesisTheLogRefusesLeavesTheSystemUninitializedAndRetryable() throws {
        var driver = NexusDriver(Self.machine())
        var log: [DomainEvent] = []
        let time = NexusTime(wall: 0, monotonic: 0)
        try driver.handle(.start, at: time)
        _ = Self.drain(&driver, log: &log, at: time)
        try driver.handle(.initialize(try Self.genesis(), actor: Self.admin, trail: "t"), at: time)
        let effects = Self.drain(&driver, log: &log, at: time, failAppends: true)
        #expect(driver.machine.phase == .uninitialized && driver.machine.initializationFailure == "disk full")
        #expect(!effects.contains { if case .unlockData = $0 { true } else { false } })
        // A second try goes through: ready, the data unlocked, every share sent.
        try driver.handle(.initialize(try Self.genesis(), actor: Self.admin, trail: "t"), at: time)
        let second = Self.drain(&driver, log: &log, at: time)
        #expect(driver.machine.phase == .ready && driver.machine.initializationFailure == nil)
        #expect(second.contains { if case .unlockData(_, 1) = $0 { true } else { false } })
        #expect(second.filter { if case .contribute = $0 { true } else { false } }.count == 3)
    }

    /// A summary the log refused is kept and appended at the next tick: every poll stays
    /// accounted for.
    @Test func pollSummariesTheLogRefusedAreAppendedAgain() throws {
        var driver = NexusDriver(Self.machine(Self.initialized(try Self.genesis())))
        var log: [DomainEvent] = []
        let time = NexusTime(wall: 1000, monotonic: 0)
        try driver.handle(.start, at: time)
        _ = Self.drain(&driver, log: &log, at: time)
        try driver.handle(.pollCompleted(keeper: 1, result: .unreachable("down"), latencyMillis: 2000), at: time)
        _ = Self.drain(&driver, log: &log, at: time, failAppends: true)
        #expect(driver.machine.pollsNotInLog == 1 && driver.machine.nextDeadline() == NexusLifecycle.appendRetryMillis)
        // Not retried in a busy loop: nothing before the retry time.
        try driver.handle(.tick, at: NexusTime(wall: 1000, monotonic: 10))
        _ = Self.drain(&driver, log: &log, at: time)
        #expect(driver.machine.pollsNotInLog == 1 && log.compactMap { $0.payload as? KeeperPolled }.isEmpty)
        let retry = NexusTime(wall: 2000, monotonic: NexusLifecycle.appendRetryMillis)
        try driver.handle(.tick, at: retry)
        _ = Self.drain(&driver, log: &log, at: retry)
        #expect(driver.machine.pollsNotInLog == 0)
        #expect(log.compactMap { $0.payload as? KeeperPolled }.map(\.count) == [1])
    }

    @Test func aRefusedLogStopsServingButNotPolling() throws {
        let genesis = try Self.genesis()
        var driver = NexusDriver(Self.machine(Self.initialized(genesis)))
        var log: [DomainEvent] = []
        let time = NexusTime(wall: 1000, monotonic: 0)
        try driver.handle(.start, at: time)
        _ = Self.drain(&driver, log: &log, at: time)
        for keeper in 1...2 {
            try driver.handle(.pollCompleted(keeper: keeper, result: .shard(genesis.shares[keeper]!.value), latencyMillis: 1), at: time)
            _ = Self.drain(&driver, log: &log, at: time)
        }
        try driver.handle(.pollCompleted(keeper: 3, result: .shard(genesis.shares[3]!.value), latencyMillis: 1), at: time)
        _ = Self.drain(&driver, log: &log, at: time)
        #expect(driver.machine.isServing)
        try driver.handle(.dataRefused("record 9 is forged"), at: time)
        #expect(driver.machine.phase == .ready && !driver.machine.isServing && driver.machine.refusal == "record 9 is forged")
        try driver.handle(.tick, at: NexusTime(wall: 1000, monotonic: 5000))
        #expect(Self.polls(Self.drain(&driver, log: &log, at: time)) == [1, 2, 3])
    }

    /// `spike init` is not done while the shares are in flight: the Nexus holds R but serves
    /// once `threshold` Keepers confirmed theirs (a delivered contribution, or a poll showing it).
    @Test func anInitializedNexusServesOnceThresholdKeepersHoldTheirShares() throws {
        let genesis = try Self.genesis()
        var driver = NexusDriver(Self.machine())
        var log: [DomainEvent] = []
        var time = NexusTime(wall: 0, monotonic: 0)
        try driver.handle(.start, at: time)
        _ = Self.drain(&driver, log: &log, at: time)
        try driver.handle(.initialize(genesis, actor: Self.admin, trail: "t"), at: time)
        let sent = Self.drain(&driver, log: &log, at: time)
        #expect(sent.filter { if case .contribute = $0 { true } else { false } }.count == 3)
        #expect(driver.machine.phase == .ready && !driver.machine.isServing && driver.machine.confirmedShares == [])
        // Keeper 1's share arrives; Keeper 2's contribution fails; one is not the threshold of two.
        try driver.handle(.contributeCompleted(keeper: 1, rehydration: nil, succeeded: true), at: time)
        try driver.handle(.contributeCompleted(keeper: 2, rehydration: nil, succeeded: false), at: time)
        _ = Self.drain(&driver, log: &log, at: time)
        #expect(!driver.machine.isServing && driver.machine.confirmedShares == [1])
        // The next poll finds Keeper 2 empty: it is sent its share again, which arrives.
        time = NexusTime(wall: 5000, monotonic: 5000)
        try driver.handle(.tick, at: time)
        _ = Self.drain(&driver, log: &log, at: time)
        try driver.handle(.pollCompleted(keeper: 2, result: .empty, latencyMillis: 1), at: time)
        let repaired = Self.drain(&driver, log: &log, at: time)
        guard case .contribute(2, let share, let rehydration?)? = repaired.first(where: { if case .contribute = $0 { true } else { false } }) else {
            Issue.record("Keeper 2 was not sent its share again: \(repaired)")
            return
        }
        #expect(share == genesis.shares[2] && rehydration.reason == .empty)
        try driver.handle(.contributeCompleted(keeper: 2, rehydration: rehydration, succeeded: true), at: time)
        _ = Self.drain(&driver, log: &log, at: time)
        #expect(driver.machine.isServing && driver.machine.confirmedShares == nil)
        // A poll showing the distributed share confirms too (Keeper 3, on another system).
        var second = NexusDriver(Self.machine())
        var secondLog: [DomainEvent] = []
        try second.handle(.start, at: time)
        _ = Self.drain(&second, log: &secondLog, at: time)
        try second.handle(.initialize(genesis, actor: Self.admin, trail: "t"), at: time)
        _ = Self.drain(&second, log: &secondLog, at: time)
        for keeper in [1, 3] {
            try second.handle(.pollCompleted(keeper: keeper, result: .shard(genesis.shares[keeper]!.value), latencyMillis: 1), at: time)
            _ = Self.drain(&second, log: &secondLog, at: time)
        }
        #expect(second.machine.isServing)
    }
}
