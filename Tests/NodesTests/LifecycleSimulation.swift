import Foundation
import Nodes
import Projections
import SecretSharing

/// The Nexus lifecycle under a virtual clock and network (DESIGN §8): 3–5 Keepers, seeded random
/// crashes and restarts of the Nexus and the Keepers, partitions and slow replies, and the
/// invariants of issue 4 checked after every step. `run()` returns the first violation, or nil.
struct LifecycleSimulation {
    struct Violation: Error, CustomStringConvertible {
        let seed: UInt64
        let time: Int64
        let message: String
        var description: String { "seed \(seed) at t=\(time) ms: \(message)" }
    }

    /// A Keeper as the simulator sees it: its share lives in memory only.
    struct Keeper {
        var up = true
        var share: [UInt8]?
        var partitionedUntil: Int64 = 0
        var slowUntil: Int64 = 0
        /// Bumped at every restart: a message for an earlier life is lost.
        var life = 0
        /// Since when it has been reachable, fast and without its distributed share.
        var badSince: Int64?
    }

    enum Delivery {
        case pollReply(nexusLife: Int, keeper: Int, result: NexusLifecycle.PollResult, sentAt: Int64)
        case shareArrives(keeper: Int, keeperLife: Int, share: [UInt8])
        case contributeReply(nexusLife: Int, keeper: Int, rehydration: NexusLifecycle.Rehydration?, succeeded: Bool)
        case nexusRestart
        case keeperRestart(keeper: Int)
    }

    let seed: UInt64
    var random: SplitMix64
    let pollInterval: Int64 = 5000
    let timeout: Int64 = 2000
    /// The slowest reply of a healthy Keeper.
    let fastLatency: Int64 = 80
    let duration: Int64
    var now: Int64 = 1_800_000_000_000
    let threshold: Int
    var keepers: [Keeper]
    var log: [DomainEvent] = []
    var nexus: NexusLifecycle?
    var nexusLife = 0
    var readySince: Int64?
    var sealedHealthySince: Int64?
    var queue: [(time: Int64, order: Int, delivery: Delivery)] = []
    var order = 0
    /// The truth: the root key and each Keeper's distributed share, once initialized.
    var rootKey: [UInt8]?
    var distributed: [Int: [UInt8]] = [:]
    var secretForms: [[UInt8]] = []
    var initializeAt: Int64
    var nextFaultAt: Int64
    /// Polls answered to the current Nexus, to account for every poll in the log.
    var pollsAnswered = 0
    var pollsLogged = 0
    var stats = Statistics()

    struct Statistics {
        var nexusCrashes = 0, keeperCrashes = 0, partitions = 0, restores = 0, rehydrations = 0, events = 0
    }

    init(seed: UInt64, duration: Int64 = 300_000) {
        self.seed = seed
        self.duration = duration
        random = SplitMix64(seed: seed)
        let count = Int.random(in: 3...5, using: &random)
        threshold = Int.random(in: 2...count, using: &random)
        keepers = Array(repeating: Keeper(), count: count)
        initializeAt = now + Int64.random(in: 0...3000, using: &random)
        nextFaultAt = initializeAt + Int64.random(in: 1000...20_000, using: &random)
    }

    var keeperURLs: [String] { (1...keepers.count).map { "https://keeper-\($0).test:8443" } }

    // MARK: - Running

    mutating func run() -> Violation? {
        do {
            try startNexus()
            let end = now + duration
            while now < end {
                try step()
            }
            try heal()
            return nil
        } catch let violation as Violation {
            return violation
        } catch {
            return Violation(seed: seed, time: now, message: "unexpected error \(error)")
        }
    }

    /// Advances to the next thing that happens: a delivery, a deadline of the Nexus, the
    /// initialization, or a fault.
    mutating func step(faults: Bool = true) throws {
        var next = queue.map(\.time).min() ?? .max
        if let nexus { next = min(next, nexus.nextDeadline()) }
        if rootKey == nil, nexus != nil { next = min(next, initializeAt) }
        if faults { next = min(next, nextFaultAt) }
        now = max(now, next)
        if let index = queue.indices.min(by: { (queue[$0].time, queue[$0].order) < (queue[$1].time, queue[$1].order) }),
           queue[index].time <= now {
            let delivery = queue.remove(at: index).delivery
            try deliver(delivery)
        } else if rootKey == nil, now >= initializeAt, nexus != nil {
            try initialize()
        } else if faults, now >= nextFaultAt {
            try injectFault()
            nextFaultAt = now + Int64.random(in: 500...15_000, using: &random)
        } else if nexus != nil {
            try perform(nexus!.tick(now: now))
        }
        try checkInvariants()
    }

    /// Ends the faults, brings everything back, and checks the system settles: ready with
    /// every Keeper holding its share, or sealed for good when fewer than `threshold` Keepers
    /// kept theirs (then only a password recovery can help).
    mutating func heal() throws {
        for index in keepers.indices {
            keepers[index].partitionedUntil = 0
            keepers[index].slowUntil = 0
        }
        queue.removeAll { if case .keeperRestart = $0.delivery { true } else { false } }
        for index in keepers.indices where !keepers[index].up { restartKeeper(index + 1) }
        queue.removeAll { if case .nexusRestart = $0.delivery { true } else { false } }
        if nexus == nil { try startNexus() }
        // Shares that count towards a restore: held by a Keeper, still on their way (sent before
        // a crash of the Nexus), or already in the Nexus' hand from a Keeper that has since lost
        // it (the simulator cannot see whether that one is genuine, so it only widens the bound).
        let inHand = Set(nexus?.shareIndicesInHand ?? [])
        func holds(_ keeper: Int) -> Bool {
            keepers[keeper - 1].share != nil && keepers[keeper - 1].share == distributed[keeper]
                || queue.contains { item in
                    if case .shareArrives(keeper, keepers[keeper - 1].life, let share) = item.delivery { share == distributed[keeper] } else { false }
                }
        }
        let holding = (1...keepers.count).filter(holds).count
        let possible = (1...keepers.count).filter { holds($0) || inHand.contains($0) }.count
        let wasReady = nexus?.phase == .ready
        let end = now + 3 * pollInterval
        while now < end { try step(faults: false) }
        try checkReplayEqualsState()
        guard let nexus else { throw violation("no Nexus after healing") }
        if rootKey == nil { return }
        if nexus.phase == .ready {
            guard wasReady || possible >= threshold else {
                throw violation("ready although only \(possible) of \(threshold) shares were held")
            }
            for keeper in 1...keepers.count where keepers[keeper - 1].share != distributed[keeper] {
                throw violation("healed and ready, but Keeper \(keeper) does not hold its share")
            }
        } else if holding >= threshold {
            throw violation("healed, \(holding) of \(threshold) Keepers hold their shares, but the Nexus is \(nexus.phase)")
        }
    }

    // MARK: - The Nexus adapter

    mutating func startNexus() throws {
        var projection = LifecycleProjection()
        for (offset, event) in log.enumerated() { projection.apply(event, sequence: UInt64(offset + 1)) }
        nexusLife += 1
        pollsAnswered = 0
        pollsLogged = 0
        var machine = NexusLifecycle(
            configuration: .init(keepers: keeperURLs, threshold: threshold, pollIntervalMillis: pollInterval,
                                 nexusID: "spiffe://spike.test/spike/nexus", instance: "nexus-\(nexusLife)", version: "sim"),
            projection: projection)
        let actions = machine.start(now: now)
        nexus = machine
        readySince = nil
        sealedHealthySince = nil
        try perform(actions)
    }

    mutating func initialize() throws {
        var generator = random
        let genesis = try EpochGenesis.create(
            epoch: 1, keepers: keeperURLs, threshold: threshold, password: "correct horse battery",
            admin: "spiffe://spike.test/spike/pilot/role/superuser", cost: .testing, using: &generator)
        random = generator
        rootKey = genesis.rootKey.copyBytes()
        distributed = genesis.shares.mapValues(\.value)
        secretForms = Self.forms(of: [rootKey!] + distributed.values)
        try perform(try nexus!.initialize(genesis, actor: "spiffe://spike.test/spike/pilot/role/superuser", trail: "init"))
    }

    mutating func perform(_ actions: [NexusLifecycle.Action]) throws {
        for action in actions {
            guard nexus != nil else { return }
            switch action {
            case .append(let events):
                for event in events { try checkSealed(event) }
                let first = UInt64(log.count + 1)
                log += events
                stats.events += events.count
                for event in events {
                    if let polled = event.payload as? KeeperPolled { pollsLogged += polled.count }
                    if let restored = event.payload as? RootKeyRestored {
                        stats.restores += 1
                        guard restored.shareIndices.count >= threshold else {
                            throw violation("combined \(restored.shareIndices.count) shares, threshold \(threshold)")
                        }
                    }
                    if event.payload is KeeperRehydrated { stats.rehydrations += 1 }
                }
                try perform(nexus!.appended(events, first: first, now: now))
            case .poll(let keeper):
                sendPoll(keeper)
            case .contribute(let keeper, let share, let rehydration):
                sendShare(keeper, share: share.value, rehydration: rehydration)
            }
        }
    }

    // MARK: - The network

    func reachable(_ keeper: Int) -> Bool {
        let state = keepers[keeper - 1]
        return state.up && now >= state.partitionedUntil
    }

    mutating func latency(_ keeper: Int) -> Int64 {
        now < keepers[keeper - 1].slowUntil ? Int64.random(in: 500...4000, using: &random) : Int64.random(in: 1...fastLatency, using: &random)
    }

    mutating func sendPoll(_ keeper: Int) {
        guard reachable(keeper) else {
            schedule(at: now + timeout, .pollReply(nexusLife: nexusLife, keeper: keeper, result: .unreachable("timeout"), sentAt: now))
            return
        }
        let latency = latency(keeper)
        if latency > timeout {
            schedule(at: now + timeout, .pollReply(nexusLife: nexusLife, keeper: keeper, result: .unreachable("timeout"), sentAt: now))
            return
        }
        let result: NexusLifecycle.PollResult = keepers[keeper - 1].share.map { .shard($0) } ?? .empty
        schedule(at: now + latency, .pollReply(nexusLife: nexusLife, keeper: keeper, result: result, sentAt: now))
    }

    mutating func sendShare(_ keeper: Int, share: [UInt8], rehydration: NexusLifecycle.Rehydration?) {
        guard reachable(keeper) else {
            schedule(at: now + timeout, .contributeReply(nexusLife: nexusLife, keeper: keeper, rehydration: rehydration, succeeded: false))
            return
        }
        let latency = latency(keeper)
        schedule(at: now + latency / 2, .shareArrives(keeper: keeper, keeperLife: keepers[keeper - 1].life, share: share))
        schedule(at: now + min(latency, timeout),
                 .contributeReply(nexusLife: nexusLife, keeper: keeper, rehydration: rehydration, succeeded: latency <= timeout))
    }

    mutating func schedule(at time: Int64, _ delivery: Delivery) {
        order += 1
        queue.append((time, order, delivery))
    }

    mutating func deliver(_ delivery: Delivery) throws {
        switch delivery {
        case .pollReply(let life, let keeper, let result, let sentAt):
            guard life == nexusLife, nexus != nil else { return }
            pollsAnswered += 1
            try perform(nexus!.pollCompleted(keeper: keeper, result: result, latencyMillis: now - sentAt, now: now))
        case .shareArrives(let keeper, let life, let share):
            if keepers[keeper - 1].up, keepers[keeper - 1].life == life { keepers[keeper - 1].share = share }
        case .contributeReply(let life, let keeper, let rehydration, let succeeded):
            guard life == nexusLife, nexus != nil else { return }
            try perform(nexus!.contributeCompleted(keeper: keeper, rehydration: rehydration, succeeded: succeeded))
        case .nexusRestart:
            if nexus == nil { try startNexus() }
        case .keeperRestart(let keeper):
            restartKeeper(keeper)
        }
    }

    mutating func restartKeeper(_ keeper: Int) {
        guard !keepers[keeper - 1].up else { return }
        keepers[keeper - 1].up = true
        keepers[keeper - 1].share = nil
    }

    // MARK: - Faults

    mutating func injectFault() throws {
        let keeper = Int.random(in: 1...keepers.count, using: &random)
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<15:
            guard nexus != nil else { return }
            // SIGKILL: whatever was not appended is gone; in-flight replies are lost.
            try checkReplayEqualsState()
            nexus = nil
            stats.nexusCrashes += 1
            schedule(at: now + Int64.random(in: 100...20_000, using: &random), .nexusRestart)
        case 15..<50:
            guard keepers[keeper - 1].up else { return }
            keepers[keeper - 1].up = false
            keepers[keeper - 1].share = nil
            keepers[keeper - 1].life += 1
            stats.keeperCrashes += 1
            schedule(at: now + Int64.random(in: 0...30_000, using: &random), .keeperRestart(keeper: keeper))
        case 50..<75:
            keepers[keeper - 1].partitionedUntil = now + Int64.random(in: 1000...30_000, using: &random)
            stats.partitions += 1
        case 75..<92:
            keepers[keeper - 1].slowUntil = now + Int64.random(in: 1000...20_000, using: &random)
        default:
            // A Keeper that holds a share that is not its own (an operator mix-up).
            if keepers[keeper - 1].up, keepers[keeper - 1].share != nil {
                keepers[keeper - 1].share = (0..<32).map { _ in UInt8.random(in: 1...255, using: &random) }
            }
        }
    }

    // MARK: - Invariants

    func violation(_ message: String) -> Violation { Violation(seed: seed, time: now, message: message) }

    mutating func checkInvariants() throws {
        guard let nexus else { return }
        // A ready Nexus holds the one true root key, never a wrong combination.
        if nexus.phase == .ready {
            guard let key = nexus.currentRootKey?.copyBytes(), key == rootKey else {
                throw violation("ready with a root key that is not the system's")
            }
            if readySince == nil { readySince = now }
        } else {
            guard nexus.currentRootKey == nil else { throw violation("holds a root key while \(nexus.phase)") }
        }
        // Every poll is accounted for: in the log, or pending in the ledger.
        guard pollsLogged + nexus.ledger.pending == pollsAnswered else {
            throw violation("\(pollsAnswered) polls answered, \(pollsLogged) in the log and \(nexus.ledger.pending) pending")
        }
        let healthy = (1...keepers.count).filter { keeper in
            reachable(keeper) && now >= keepers[keeper - 1].slowUntil
        }
        // A sealed Nexus with `threshold` healthy Keepers holding their shares becomes ready
        // within a poll interval (plus the answers' time).
        if nexus.phase == .sealed {
            let holding = healthy.filter { keepers[$0 - 1].share != nil && keepers[$0 - 1].share == distributed[$0] }
            if holding.count >= threshold {
                let since = sealedHealthySince ?? now
                sealedHealthySince = since
                if now - since > pollInterval + timeout + fastLatency {
                    throw violation("sealed for \(now - since) ms although Keepers \(holding) hold their shares")
                }
            } else {
                sealedHealthySince = nil
            }
        } else {
            sealedHealthySince = nil
        }
        // Once ready, a reachable Keeper without its share gets it back within a poll interval.
        for keeper in 1...keepers.count {
            let state = keepers[keeper - 1]
            let bad = nexus.phase == .ready && healthy.contains(keeper) && state.share != distributed[keeper]
            if !bad {
                keepers[keeper - 1].badSince = nil
                continue
            }
            let since = max(state.badSince ?? now, readySince ?? now)
            keepers[keeper - 1].badSince = state.badSince ?? now
            if now - since > pollInterval + timeout + 2 * fastLatency {
                throw violation("Keeper \(keeper) has been without its share for \(now - since) ms while reachable")
            }
        }
    }

    /// The state a restart rebuilds from the log equals the state the Nexus held.
    func checkReplayEqualsState() throws {
        guard let nexus else { return }
        var replayed = LifecycleProjection()
        for (offset, event) in log.enumerated() { replayed.apply(event, sequence: UInt64(offset + 1)) }
        guard replayed == nexus.projection else { throw violation("the log replays to a state other than the Nexus held") }
    }

    /// No root key or share appears in an event body, in any encoding.
    func checkSealed(_ event: DomainEvent) throws {
        let body = event.encoded()
        guard let decoded = try DomainEvent.decode(kind: event.kind.number, body: body), decoded == event else {
            throw violation("\(event.kind.name) does not survive encoding")
        }
        for form in secretForms where Self.contains(body, form) {
            throw violation("key material in clear in a \(event.kind.name) body")
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count, let first = needle.first else { return false }
        return haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                for start in 0...(h.count - n.count) where h[start] == first {
                    if memcmp(h.baseAddress! + start, n.baseAddress!, n.count) == 0 { return true }
                }
                return false
            }
        }
    }

    /// The root key and every share as raw bytes, base64, hex and a JSON number array.
    static func forms(of secrets: [[UInt8]]) -> [[UInt8]] {
        let hex = Array("0123456789abcdef".utf8)
        return secrets.flatMap { secret in
            [
                secret,
                Array(Data(secret).base64EncodedString().utf8),
                secret.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] },
                Array(secret.prefix(8).map(String.init).joined(separator: ",").utf8),
            ]
        }
    }
}
