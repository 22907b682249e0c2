import NexusCore
import Projections
import SecretSharing
import Testing

/// Recovery shards and admin passwords as the lifecycle decides them, without any I/O: SPIKE's
/// arithmetic with its bugs fixed (a ready Nexus refuses shards, a wrong set is refused,
/// recorded and dropped), exports answered only once recorded, and admins that never drop to none.
@Suite struct OperatorCommandTests {
    typealias Driver = NexusDriverTests
    static let time = NexusTime(wall: 1_800_000_000_000, monotonic: 0)
    static let restorer = "spiffe://spike.ist/spike/pilot/role/restore"

    /// A Nexus that initialized with `genesis` and whose Keepers all hold their shares.
    static func serving(_ genesis: EpochGenesis, log: inout [DomainEvent]) throws -> NexusDriver {
        var driver = NexusDriver(Driver.machine())
        try driver.handle(.start, at: time)
        _ = Driver.drain(&driver, log: &log, at: time)
        try driver.handle(.initialize(genesis, actor: Driver.admin, trail: "t"), at: time)
        _ = Driver.drain(&driver, log: &log, at: time)
        for keeper in 1...3 { try driver.handle(.contributeCompleted(keeper: keeper, rehydration: nil, succeeded: true), at: time) }
        _ = Driver.drain(&driver, log: &log, at: time)
        #expect(driver.machine.isServing)
        return driver
    }

    /// A new Nexus process on `log`, sealed (no Keeper has answered).
    static func restarted(_ log: inout [DomainEvent]) throws -> NexusDriver {
        var projection = LifecycleProjection()
        for (offset, event) in log.enumerated() { projection.apply(event, sequence: UInt64(offset + 1)) }
        var driver = NexusDriver(Driver.machine(projection))
        try driver.handle(.start, at: time)
        _ = Driver.drain(&driver, log: &log, at: time)
        #expect(driver.machine.phase == .sealed)
        return driver
    }

    /// Sends one command and returns the answer it got (after every effect is carried out).
    static func send(_ command: OperatorCommand, id: UInt64, to driver: inout NexusDriver, log: inout [DomainEvent],
                     failAppends: Bool = false, actor: String = restorer) throws -> (OperatorOutcome?, [NexusLifecycle.Action]) {
        try driver.handle(.operatorCommand(command, OperatorRequest(id: id, actor: actor, trail: "trail-\(id)")), at: time)
        let actions = Driver.drain(&driver, log: &log, at: time, failAppends: failAppends)
        let answer = actions.lazy.compactMap { if case .answerOperator(id, let outcome) = $0 { outcome } else { nil } }.first
        return (answer, actions)
    }

    @Test func recoveryShardsAreExportedOnlyOnceRecordedAndRestoreASealedNexus() throws {
        let genesis = try Driver.genesis()
        var log: [DomainEvent] = []
        // Before the Keepers confirm, a Nexus that holds R does not serve, nor export.
        var initializing = NexusDriver(Driver.machine())
        var scratch: [DomainEvent] = []
        try initializing.handle(.initialize(genesis, actor: Driver.admin, trail: "t"), at: Self.time)
        _ = Driver.drain(&initializing, log: &scratch, at: Self.time)
        #expect(try Self.send(.exportShards, id: 1, to: &initializing, log: &scratch).0 == .refused(.notServing))

        var driver = try Self.serving(genesis, log: &log)
        // An export the log refuses hands out nothing, and is not appended behind the operator's back.
        let (refused, _) = try Self.send(.exportShards, id: 2, to: &driver, log: &log, failAppends: true)
        guard case .refused(.logFailed(let reason)) = refused else { Issue.record("not refused: \(String(describing: refused))"); return }
        #expect(reason == "disk full")
        try driver.handle(.tick, at: NexusTime(wall: Self.time.wall + 10_000, monotonic: 10_000))
        _ = Driver.drain(&driver, log: &log, at: Self.time)
        #expect(!log.contains { $0.payload is RecoveryShardsExported })

        let before = log.count
        guard case .shards(let shards)? = try Self.send(.exportShards, id: 3, to: &driver, log: &log).0 else {
            Issue.record("no shards")
            return
        }
        #expect(shards == [1, 2, 3].map { genesis.shares[$0]! }, "the shards are the Keepers' shares: the same at every export")
        let exported = try #require(log[before...].compactMap { $0.payload as? RecoveryShardsExported }.first)
        #expect(exported.shareIndices == [1, 2, 3] && exported.epoch == 1 && log.last?.actor == Self.restorer)
        // A ready Nexus refuses shards (SPIKE overwrites its root key with them).
        #expect(try Self.send(.restoreShard(shards[0]), id: 4, to: &driver, log: &log).0 == .refused(.notSealed(.ready)))

        var sealed = try Self.restarted(&log)
        #expect(try Self.send(.exportShards, id: 5, to: &sealed, log: &log).0 == .refused(.notServing))
        #expect(try Self.send(.restoreShard(shards[2]), id: 6, to: &sealed, log: &log).0 == .shardCollected(collected: 1, remaining: 1))
        // The same index again changes nothing; an index past the shares is refused.
        #expect(try Self.send(.restoreShard(shards[2]), id: 7, to: &sealed, log: &log).0 == .shardCollected(collected: 1, remaining: 1))
        #expect(try Self.send(.restoreShard(Shamir.Share(index: 4, value: shards[0].value)), id: 8, to: &sealed, log: &log).0
                == .refused(.shareIndexOutOfRange(4, shares: 3)))
        let (restored, actions) = try Self.send(.restoreShard(shards[0]), id: 9, to: &sealed, log: &log)
        #expect(restored == .restored(collected: 2))
        #expect(sealed.machine.isServing)
        let record = try #require(log.compactMap { $0.payload as? RootKeyRestored }.last)
        #expect(record.source == .shards && record.shareIndices == [1, 3] && log.last { $0.payload is RootKeyRestored }?.actor == Self.restorer)
        #expect(actions.contains { if case .unlockData = $0 { true } else { false } })
        #expect(try Self.send(.restoreShard(shards[1]), id: 10, to: &sealed, log: &log).0 == .refused(.notSealed(.ready)))
    }

    @Test func aWrongSetOfShardsIsRefusedRecordedAndDropped() throws {
        let genesis = try Driver.genesis()
        var log: [DomainEvent] = []
        _ = try Self.serving(genesis, log: &log)
        var sealed = try Self.restarted(&log)
        let stranger = Shamir.Share(index: 2, value: (1...32).map { UInt8($0) })
        #expect(try Self.send(.restoreShard(genesis.shares[1]!), id: 1, to: &sealed, log: &log).0 == .shardCollected(collected: 1, remaining: 1))
        #expect(try Self.send(.restoreShard(stranger), id: 2, to: &sealed, log: &log).0 == .refused(.wrongShards([1, 2])))
        let failed = try #require(log.compactMap { $0.payload as? RootKeyRestoreFailed }.last)
        #expect(failed.source == .shards && failed.shareIndices == [1, 2] && failed.at == Self.time.wall)
        #expect(sealed.machine.phase == .sealed)
        // Every shard was dropped: the right one counts as the first again.
        #expect(try Self.send(.restoreShard(genesis.shares[2]!), id: 3, to: &sealed, log: &log).0 == .shardCollected(collected: 1, remaining: 1))
        #expect(try Self.send(.restoreShard(genesis.shares[3]!), id: 4, to: &sealed, log: &log).0 == .restored(collected: 2))
    }

    @Test func adminPasswordsAreAddedChangedAndRemovedButNeverTheLast() throws {
        let genesis = try Driver.genesis()
        var log: [DomainEvent] = []
        var driver = try Self.serving(genesis, log: &log)
        var generator = SystemRandomNumberGenerator()
        func wrap(_ admin: String, _ password: String) throws -> PasswordWrap {
            try PasswordWrap.wrap(genesis.rootKey, password: password, admin: admin, epoch: 1, cost: .testing, at: 7, using: &generator)
        }
        // Adding asks the adapter for a wrap under the root key; the answer waits for the event.
        let (pending, asked) = try Self.send(.addAdmin("alice"), id: 1, to: &driver, log: &log, actor: Driver.admin)
        #expect(pending == nil)
        guard case .wrapPassword(1, "alice", let key, 1)? = asked.first else { Issue.record("no wrap asked: \(asked)"); return }
        #expect(key.copyBytes() == genesis.rootKey.copyBytes())
        #expect(try Self.send(.addAdmin("bob"), id: 2, to: &driver, log: &log, actor: Driver.admin).0 == .refused(.busy))
        let alice = try wrap("alice", "alice's long password")
        try driver.handle(.passwordWrapped(request: 1, .success(alice)), at: Self.time)
        let added = Driver.drain(&driver, log: &log, at: Self.time)
        #expect(added.contains { if case .answerOperator(1, .adminsChanged) = $0 { true } else { false } })
        #expect((log.last?.payload as? AdminPasswordAdded)?.wrap == alice)

        #expect(try Self.send(.listAdmins, id: 3, to: &driver, log: &log).0
                == .admins([AdminSummary(name: Driver.admin, at: nil), AdminSummary(name: "alice", at: 7)]))
        #expect(try Self.send(.addAdmin("alice"), id: 4, to: &driver, log: &log).0 == .refused(.adminExists("alice")))
        #expect(try Self.send(.changeAdmin("bob"), id: 5, to: &driver, log: &log).0 == .refused(.unknownAdmin("bob")))
        #expect(try Self.send(.removeAdmin("bob"), id: 6, to: &driver, log: &log).0 == .refused(.unknownAdmin("bob")))
        // A wrap that could not be made changes nothing.
        _ = try Self.send(.changeAdmin("alice"), id: 7, to: &driver, log: &log)
        try driver.handle(.passwordWrapped(request: 7, .failure(.wrapFailed("too short"))), at: Self.time)
        #expect(Driver.drain(&driver, log: &log, at: Self.time).contains { if case .answerOperator(7, .refused(.wrapFailed)) = $0 { true } else { false } })
        // Changed, the old wrap no longer counts.
        _ = try Self.send(.changeAdmin("alice"), id: 8, to: &driver, log: &log)
        let changed = try wrap("alice", "alice's new long password")
        try driver.handle(.passwordWrapped(request: 8, .success(changed)), at: Self.time)
        _ = Driver.drain(&driver, log: &log, at: Self.time)
        #expect(try Self.send(.removeAdmin(Driver.admin), id: 9, to: &driver, log: &log).0 == .adminsChanged)
        #expect(try Self.send(.removeAdmin("alice"), id: 10, to: &driver, log: &log).0 == .refused(.lastAdmin("alice")))
        #expect(driver.machine.projection.passwordWraps == [changed])

        // A sealed Nexus tries only the current wraps.
        var sealed = try Self.restarted(&log)
        try sealed.handle(.passwordAttempt(actor: "spiffe://spike.ist/spike/pilot/role/recover", trail: "r"), at: Self.time)
        guard case .unwrapPassword(let wraps, 1)? = Driver.drain(&sealed, log: &log, at: Self.time).first else {
            Issue.record("no unwrap")
            return
        }
        #expect(wraps == [changed])
        // Admin changes need a serving Nexus.
        #expect(try Self.send(.addAdmin("carol"), id: 11, to: &sealed, log: &log).0 == .refused(.notServing))
    }

    /// A rotation: prepared by the adapter, appended, the new shares sent; it completes (the link
    /// shredded) once threshold Keepers confirm the new shares, and an old share that arrives
    /// late confirms nothing.
    @Test func aRotationCompletesOnceThresholdKeepersHoldTheNewShares() throws {
        let genesis = try Driver.genesis()
        var log: [DomainEvent] = []
        var driver = try Self.serving(genesis, log: &log)
        // Keeper 3 was found empty: its (old) share is on its way when the rotation commits.
        try driver.handle(.tick, at: NexusTime(wall: Self.time.wall + 5000, monotonic: 5000))
        _ = Driver.drain(&driver, log: &log, at: Self.time)
        try driver.handle(.pollCompleted(keeper: 3, result: .empty, latencyMillis: 1), at: Self.time)
        #expect(Driver.drain(&driver, log: &log, at: Self.time).contains { if case .contribute(3, _, _) = $0 { true } else { false } })
        // A second admin, added since the genesis: the rotation moves both wraps.
        _ = try Self.send(.addAdmin("alice"), id: 9, to: &driver, log: &log, actor: Driver.admin)
        var generator = SystemRandomNumberGenerator()
        try driver.handle(.passwordWrapped(request: 9, .success(try PasswordWrap.wrap(genesis.rootKey, password: "alice's long password",
                                                                                      admin: "alice", epoch: 1, cost: .testing, using: &generator))),
                          at: Self.time)
        _ = Driver.drain(&driver, log: &log, at: Self.time)
        let (pending, asked) = try Self.send(.rotate, id: 1, to: &driver, log: &log, actor: Driver.admin)
        #expect(pending == nil)
        guard case .prepareRotation(1, let key, let current, nil, 2)? = asked.first else { Issue.record("no rotation asked: \(asked)"); return }
        #expect(current.passwordWraps.map(\.admin) == [Driver.admin, "alice"], "the admins of now, not of the genesis")
        let rotation = try RootKeyRotation.create(from: key, current: current, currentRotation: nil, epoch: 2, at: 1, using: &generator)
        #expect(try Self.send(.rotate, id: 2, to: &driver, log: &log).0 == .refused(.rotationPending))
        try driver.handle(.rotationPrepared(request: 1, .success(rotation)), at: Self.time)
        var actions: [NexusLifecycle.Action] = []
        while let effect = driver.nextEffect() {
            if case .appendRotation(let events, _, _) = effect {
                log += events
                driver.appendSucceeded(first: UInt64(log.count - events.count + 1), at: Self.time)
            } else {
                actions.append(effect)
            }
        }
        #expect(actions.contains { if case .answerOperator(1, .rotated(epoch: 2, shardsExportedBefore: false)) = $0 { true } else { false } })
        let sent = actions.compactMap { if case .contribute(let keeper, let share, nil) = $0 { (keeper, share) } else { nil } }
        #expect(sent.map(\.0) == [1, 2] && sent.allSatisfy { rotation.shares[$0.0] == $0.1 }, "keeper 3 gets its new share after its old one")
        #expect(driver.machine.currentRootKey?.copyBytes() == rotation.rootKey.copyBytes() && driver.machine.projection.epoch == 2)
        func completes(_ actions: [NexusLifecycle.Action]) -> Bool { actions.contains { if case .completeRotation = $0 { true } else { false } } }
        // The old share reaches keeper 3, then keeper 1's new one: one confirmation of two.
        try driver.handle(.contributeCompleted(keeper: 3, rehydration: nil, succeeded: true), at: Self.time)
        #expect(!completes(Driver.drain(&driver, log: &log, at: Self.time)))
        try driver.handle(.contributeCompleted(keeper: 1, rehydration: nil, succeeded: true), at: Self.time)
        #expect(!completes(Driver.drain(&driver, log: &log, at: Self.time)), "an old share that arrived late confirmed the rotation")
        try driver.handle(.contributeCompleted(keeper: 2, rehydration: nil, succeeded: true), at: Self.time)
        var completion: [NexusLifecycle.Action] = []
        while let effect = driver.nextEffect() {
            if case .completeRotation(let events, let link, _) = effect {
                #expect(link == Array(rotation.event.link))
                log += events
                driver.appendSucceeded(first: UInt64(log.count), at: Self.time)
            }
            completion.append(effect)
        }
        #expect(completes(completion) && driver.machine.projection.pendingRotationLink == nil)
        #expect(log.last?.payload is RootKeyRotationCompleted)
    }
}
