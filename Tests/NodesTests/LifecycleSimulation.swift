import EventLog
import Foundation
import NexusCore
import Nodes
import Projections
import SecretSharing
import SpikeAPI
import SpikeClient

/// The Nexus under a virtual clock, network and log (DESIGN §8): the production `NexusDriver`
/// and `DataPlane`, 3–5 Keepers, seeded random crashes and restarts of the Nexus and the
/// Keepers, partitions, slow replies, a log that refuses appends for a while, a wall clock that
/// steps back, and data-plane writes interleaved with all of it; the invariants checked after
/// every step. `run()` returns the first violation, or nil.
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
        /// The scrypt of a password attempt is done.
        case passwordUnwrapped(nexusLife: Int, key: [UInt8]?, admin: String?)
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
    var driver: NexusDriver?
    /// The machine the driver runs, for the invariants.
    var nexus: NexusLifecycle? { driver?.machine }
    var nexusLife = 0
    /// The wall clock's offset from the virtual time (it steps back as a fault); the monotonic
    /// clock is the virtual time itself.
    var wallOffset: Int64 = 0
    /// The log refuses every append until then (a full disk).
    var logRefusesUntil: Int64 = 0
    /// The data the running Nexus unlocked, and with which key.
    var unlockedWith: [UInt8]?
    var plane: DataPlane?
    /// The log's key table (version keys), changed only by appends that succeeded.
    var keyTable: [[UInt8]: [UInt8]] = [:]
    /// The system's epoch: 1 from the genesis, one more at every rotation.
    var epoch: UInt32 = 1
    /// A rotation is in the log and its completion is not: old shares still unseal (the link).
    var rotationPending = false
    /// The admins whose passwords wrap the root key, as the answers to admin changes say (every
    /// admin's password is `password`), and the admin commands waiting for their answer.
    var admins = ["spiffe://spike.test/spike/pilot/role/superuser"]
    var adminCommands: [UInt64: OperatorCommand] = [:]
    var nextRequest: UInt64 = 1
    /// The Keepers that have held the current epoch's share at some point (a Keeper may have
    /// lost it since: a crash after its confirmation is the system's to survive).
    var heldCurrentShare: Set<Int> = []
    /// The value of every acknowledged put, by path and version.
    var acknowledgedValues: [String: [Int: [String: String]]] = [:]
    var nextDataAt: Int64
    var readySince: Int64?
    var sealedHealthySince: Int64?
    var queue = DeliveryQueue<Delivery>()
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
    var stepsAtThisTime = 0

    struct Statistics {
        var nexusCrashes = 0, keeperCrashes = 0, partitions = 0, restores = 0, rehydrations = 0, events = 0
        var appendsRefused = 0, clockStepsBack = 0, writesAcknowledged = 0, writesRefused = 0
        var passwordRestores = 0, passwordsRefused = 0, shardExports = 0, shardRestores = 0, shardSetsRefused = 0
        var rotations = 0, rotationsCompleted = 0, restoresMidRotation = 0, adminChanges = 0
    }

    static let password = "correct horse battery"
    /// The password attempt being checked: whether it offered the right password.
    var offeredRightPassword: Bool?
    /// Recovery shards an operator gave the sealed Nexus of this life, by index: whether each was right.
    var offeredShards: (life: Int, right: [Int: Bool]) = (0, [:])
    /// The Nexus life in which a password restored the root key (no shares were needed then).
    var restoredByPasswordInLife: Int?

    init(seed: UInt64, duration: Int64 = 300_000) {
        self.seed = seed
        self.duration = duration
        random = SplitMix64(seed: seed)
        let count = Int.random(in: 3...5, using: &random)
        threshold = Int.random(in: 2...count, using: &random)
        keepers = Array(repeating: Keeper(), count: count)
        initializeAt = now + Int64.random(in: 0...3000, using: &random)
        nextFaultAt = initializeAt + Int64.random(in: 1000...20_000, using: &random)
        nextDataAt = initializeAt + 1000
    }

    var time: NexusTime { NexusTime(wall: now + wallOffset, monotonic: now) }

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
        var next = queue.nextTime ?? .max
        if let nexus { next = min(next, nexus.nextDeadline()) }
        if rootKey == nil, nexus != nil { next = min(next, initializeAt) }
        if faults { next = min(next, nextFaultAt) }
        if plane != nil { next = min(next, nextDataAt) }
        // Virtual time that stops moving is a busy loop: a Nexus retrying something at once, forever.
        stepsAtThisTime = next > now ? 0 : stepsAtThisTime + 1
        guard stepsAtThisTime < 10_000 else { throw violation("10,000 steps without time moving: a busy loop") }
        now = max(now, next)
        if let delivery = queue.takeDue(by: now) {
            try deliver(delivery)
        } else if rootKey == nil, now >= initializeAt, nexus != nil {
            try initialize()
        } else if faults, now >= nextFaultAt {
            try injectFault()
            nextFaultAt = now + Int64.random(in: 500...15_000, using: &random)
        } else if plane != nil, now >= nextDataAt {
            try writeData()
            nextDataAt = now + Int64.random(in: 200...3000, using: &random)
        } else if nexus != nil {
            try feed(.tick)
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
        logRefusesUntil = 0
        queue.removeAll { if case .keeperRestart = $0 { true } else { false } }
        for index in keepers.indices where !keepers[index].up { restartKeeper(index + 1) }
        queue.removeAll { if case .nexusRestart = $0 { true } else { false } }
        if nexus == nil { try startNexus() }
        // Shares that count towards a restore: held by a Keeper, still on their way (sent before
        // a crash of the Nexus), or already in the Nexus' hand from a Keeper that has since lost
        // it (the simulator cannot see whether that one is genuine, so it only widens the bound).
        let inHand = Set(nexus?.shareIndicesInHand ?? [])
        func holds(_ keeper: Int) -> Bool {
            keepers[keeper - 1].share != nil && keepers[keeper - 1].share == distributed[keeper]
                || queue.pending.contains { delivery in
                    if case .shareArrives(keeper, keepers[keeper - 1].life, let share) = delivery { share == distributed[keeper] } else { false }
                }
        }
        let holding = (1...keepers.count).filter(holds).count
        let possible = (1...keepers.count).filter { holds($0) || inHand.contains($0) }.count
        let wasReady = nexus?.phase == .ready
        let end = now + 3 * pollInterval
        while now < end { try step(faults: false) }
        try checkReplayEqualsState()
        try checkData()
        guard let nexus else { throw violation("no Nexus after healing") }
        if rootKey == nil { return }
        if nexus.phase == .ready {
            guard wasReady || possible >= threshold || restoredByPasswordInLife == nexusLife else {
                throw violation("ready although only \(possible) of \(threshold) shares were held")
            }
            for keeper in 1...keepers.count where keepers[keeper - 1].share != distributed[keeper] {
                throw violation("healed and ready, but Keeper \(keeper) does not hold its share")
            }
            guard nexus.projection.pendingRotationLink == nil, !rotationPending else {
                throw violation("healed and ready, every Keeper holding its share, but the rotation to epoch \(epoch) is not completed")
            }
        } else if holding >= threshold {
            throw violation("healed, \(holding) of \(threshold) Keepers hold their shares, but the Nexus is \(nexus.phase)")
        }
    }

    // MARK: - The Nexus adapter

    mutating func startNexus() throws {
        // What a restarted Nexus folds: the whole log (the data of the current epoch included).
        // (The simulated log holds events, not records: there are no authenticators to check.)
        var lifecycle = LifecycleProjection()
        var data = DataProjection()
        for (offset, event) in log.enumerated() {
            lifecycle.apply(event, sequence: UInt64(offset + 1))
            data.apply(event)
        }
        nexusLife += 1
        pollsAnswered = 0
        pollsLogged = 0
        driver = NexusDriver(NexusLifecycle(
            configuration: .init(keepers: keeperURLs, threshold: threshold, pollIntervalMillis: pollInterval,
                                 nexusID: "spiffe://spike.test/spike/nexus", instance: "nexus-\(nexusLife)", version: "sim"),
            projection: lifecycle))
        plane = nil
        unlockedWith = nil
        restartedData = data
        readySince = nil
        sealedHealthySince = nil
        try feed(.start)
    }

    mutating func initialize() throws {
        var generator = random
        let genesis = try EpochGenesis.create(
            epoch: 1, keepers: keeperURLs, threshold: threshold, password: Self.password,
            admin: "spiffe://spike.test/spike/pilot/role/superuser", cost: .testing, using: &generator)
        random = generator
        rootKey = genesis.rootKey.copyBytes()
        distributed = genesis.shares.mapValues(\.value)
        heldCurrentShare = []
        secretForms = Self.forms(of: [rootKey!] + distributed.values)
        try feed(.initialize(genesis, actor: "spiffe://spike.test/spike/pilot/role/superuser", trail: "init"))
        if nexus?.initializationFailure != nil {
            // The log refused the genesis: nothing happened; try again later.
            rootKey = nil
            distributed = [:]
            initializeAt = now + Int64.random(in: 1000...10_000, using: &random)
        }
    }

    /// The data a restarted Nexus folded from the log, opened by its `unlockData`.
    var restartedData = DataProjection()

    /// Feeds one input to the driver and carries out every effect, as `NexusNode` does.
    mutating func feed(_ input: NexusDriver.Input) throws {
        guard driver != nil else { return }
        try driver!.handle(input, at: time)
        while driver != nil, let effect = driver!.nextEffect() {
            switch effect {
            case .append(let events), .appendDecision(let events, _), .completeRotation(let events, _, _):
                // One Nexus writes this log: a decision never meets another replica's.
                for event in events { try checkSealed(event) }
                guard now >= logRefusesUntil else {
                    stats.appendsRefused += 1
                    driver!.appendFailed("the disk is full", at: time)
                    continue
                }
                let first = UInt64(log.count + 1)
                log += events
                stats.events += events.count
                for event in events {
                    if let polled = event.payload as? KeeperPolled { pollsLogged += polled.count }
                    if let restored = event.payload as? RootKeyRestored, restored.source == .keepers {
                        stats.restores += 1
                        guard restored.shareIndices.count >= threshold else {
                            throw violation("combined \(restored.shareIndices.count) shares, threshold \(threshold)")
                        }
                    }
                    if event.payload is KeeperRehydrated { stats.rehydrations += 1 }
                    if event.payload is RootKeyRestored, rotationPending { stats.restoresMidRotation += 1 }
                    if event.payload is RootKeyRotationCompleted {
                        stats.rotationsCompleted += 1
                        rotationPending = false
                    }
                }
                // The completion's transaction shreds the link: threshold Keepers must have held
                // the new shares by then, else old shares were all there was.
                if case .completeRotation(_, let link, _) = effect {
                    guard heldCurrentShare.count >= threshold else {
                        throw violation("the rotation completed though only Keepers \(heldCurrentShare.sorted()) ever held its shares (threshold \(threshold))")
                    }
                    keyTable[link] = nil
                }
                driver!.appendSucceeded(first: first, at: time)
            case .poll(let keeper):
                sendPoll(keeper)
            case .contribute(let keeper, let share, let rehydration):
                sendShare(keeper, share: share.value, rehydration: rehydration)
            case .useEpoch(let genesis):
                guard genesis.epoch == epoch else { throw violation("the log was told to use epoch \(genesis.epoch), not \(epoch)") }
            case .unlockData(let key, let unlocked):
                guard unlocked == epoch, key.copyBytes() == rootKey else { throw violation("the data was unlocked with a key that is not the system's") }
                unlockedWith = key.copyBytes()
                plane = DataPlane(projection: restartedData, versionKeys: keyTable, maxVersions: 1000)
            case .lockData:
                unlockedWith = nil
                plane = nil
            case .rekeyData:
                throw violation("the data was re-keyed for another replica's rotation; this Nexus is the only one")
            case .exit:
                // The start could not be recorded: the process ends, and is started again later.
                crashNexus()
            case .unwrapPassword(let wraps, let epoch):
                guard let right = offeredRightPassword else { throw violation("a password was unwrapped that nobody offered") }
                let password = right ? Self.password : "wrong horse battery"
                let opened = wraps.lazy.compactMap { wrap in (try? wrap.unwrap(password: password, epoch: epoch)).map { ($0.copyBytes(), wrap.admin) } }.first
                queue.schedule(at: now + Int64.random(in: 50...500, using: &random),
                         .passwordUnwrapped(nexusLife: nexusLife, key: opened?.0, admin: opened?.1))
            case .answerPasswordAttempt(let outcome):
                let right = offeredRightPassword
                offeredRightPassword = nil
                switch outcome {
                case .restored:
                    guard right == true else { throw violation("a wrong password restored the root key") }
                    stats.passwordRestores += 1
                    restoredByPasswordInLife = nexusLife
                case .wrongPassword:
                    guard right == false else { throw violation("the right password was refused") }
                    stats.passwordsRefused += 1
                case .notSealed(let phase):
                    guard phase != .sealed else { throw violation("a sealed Nexus said it is not sealed") }
                case .tooSoon, .busy:
                    break
                }
            case .wrapPassword(let request, let admin, let key, let wrapped):
                guard adminCommands[request] != nil, key.copyBytes() == rootKey, wrapped == epoch else {
                    throw violation("a password wrap for \(admin) of epoch \(wrapped) was asked for, not by an admin change of this epoch")
                }
                var generator = random
                let wrap = try PasswordWrap.wrap(key, password: Self.password, admin: admin, epoch: wrapped, cost: .testing, at: time.wall,
                                                 using: &generator)
                random = generator
                try driver!.handle(.passwordWrapped(request: request, .success(wrap)), at: time)
            case .prepareRotation(let request, let key, let current, let currentRotation, let next):
                guard key.copyBytes() == rootKey, current.epoch == epoch, next == epoch + 1 else {
                    throw violation("a rotation of epoch \(current.epoch) into \(next) was asked for; the system is at \(epoch)")
                }
                var generator = random
                let rotation = try RootKeyRotation.create(from: key, current: current, currentRotation: currentRotation, epoch: next,
                                                          at: time.wall, using: &generator)
                random = generator
                try driver!.handle(.rotationPrepared(request: request, .success(rotation)), at: time)
            case .appendRotation(let events, let rotation, _):
                for event in events { try checkSealed(event) }
                guard now >= logRefusesUntil, var plane, let rootKey else {
                    stats.appendsRefused += 1
                    driver!.appendFailed("the disk is full", at: time)
                    continue
                }
                // The store's transaction: the events, every version key re-wrapped, the link.
                let old = DataKeys(rootKey: try RootKey(bytes: rootKey), epoch: epoch)
                let next = DataKeys(rootKey: rotation.rootKey, epoch: rotation.event.epoch)
                let rewrapped = try plane.rewrappedVersionKeys(from: old, to: next)
                let first = UInt64(log.count + 1)
                log += events
                stats.events += events.count
                for entry in rewrapped { keyTable[entry.id] = entry.value }
                keyTable[Array(rotation.event.link)] = rotation.linkValue
                plane.applyRotation(events, versionKeys: rewrapped)
                self.plane = plane
                // From here on the system's key is the new one.
                self.rootKey = rotation.rootKey.copyBytes()
                unlockedWith = self.rootKey
                epoch = rotation.event.epoch
                distributed = rotation.shares.mapValues(\.value)
                heldCurrentShare = []
                secretForms += Self.forms(of: [self.rootKey!, rotation.linkValue] + distributed.values)
                stats.rotations += 1
                rotationPending = true
                // SIGKILL right after the commit, before a Keeper has its new share, now and then:
                // the restart must unseal from the old shares through the link.
                if Int.random(in: 0..<3, using: &random) == 0 {
                    crashNexus()
                    continue
                }
                driver!.appendSucceeded(first: first, at: time)
            case .answerOperator(let request, let outcome):
                try checkOperatorAnswer(outcome, command: adminCommands.removeValue(forKey: request))
            }
        }
    }

    /// An operator's answer is what the shards given and the Nexus' phase allow.
    mutating func checkOperatorAnswer(_ outcome: OperatorOutcome, command: OperatorCommand?) throws {
        switch outcome {
        case .adminsChanged:
            switch command {
            case .addAdmin(let name)?: admins.append(name)
            case .removeAdmin(let name)?: admins.removeAll { $0 == name }
            case .changeAdmin?: break
            default: throw violation("an admin change was answered that nobody asked for")
            }
            stats.adminChanges += 1
            guard !admins.isEmpty else { throw violation("the last admin was removed: no password recovers the system") }
            guard nexus?.projection.passwordWraps.map(\.admin) == admins else {
                throw violation("the admins are \(nexus?.projection.passwordWraps.map(\.admin) ?? []), the answers say \(admins)")
            }
        case .refused(.adminExists(let name)):
            guard admins.contains(name) else { throw violation("\(name) was refused as existing; the admins are \(admins)") }
        case .refused(.unknownAdmin(let name)):
            guard !admins.contains(name) else { throw violation("\(name) was refused as unknown; the admins are \(admins)") }
        case .refused(.lastAdmin(let name)):
            guard admins == [name] else { throw violation("\(name) was refused as the last admin; the admins are \(admins)") }
        case .shards(let shares):
            guard shares.count == keepers.count, shares.allSatisfy({ distributed[Int($0.index)] == $0.value }) else {
                throw violation("exported recovery shards that are not the distributed shares")
            }
            stats.shardExports += 1
        case .restored:
            guard offeredShards.life == nexusLife, offeredShards.right.count >= threshold, offeredShards.right.values.allSatisfy({ $0 }) else {
                throw violation("restored from recovery shards \(offeredShards.right) (threshold \(threshold))")
            }
            offeredShards.right = [:]
            stats.shardRestores += 1
        case .refused(.wrongShards(let indices)):
            guard offeredShards.right.values.contains(false), indices.count == threshold else {
                throw violation("refused the recovery shards \(indices), all right: \(offeredShards.right)")
            }
            offeredShards.right = [:]
            stats.shardSetsRefused += 1
        case .shardCollected(let collected, let remaining):
            guard collected == offeredShards.right.count, collected + remaining == threshold else {
                throw violation("said \(collected) shards collected, \(remaining) remaining, for \(offeredShards.right.count) given")
            }
        case .refused(.notSealed(let phase)):
            guard phase != .sealed else { throw violation("a sealed Nexus refused a shard as not sealed") }
            offeredShards.right = [:]
        case .rotated(let rotated, _):
            guard rotated == epoch else { throw violation("rotated into epoch \(rotated), the system is at \(epoch)") }
        case .refused(.notServing), .refused(.logFailed), .refused(.rotationPending), .refused(.busy):
            break
        default:
            throw violation("an unexpected operator answer \(outcome)")
        }
    }

    mutating func crashNexus() {
        driver = nil
        // A `spike recover` in flight dies with the process that was checking it.
        offeredRightPassword = nil
        plane = nil
        unlockedWith = nil
        stats.nexusCrashes += 1
        queue.schedule(at: now + Int64.random(in: 100...20_000, using: &random), .nexusRestart)
    }

    // MARK: - The data plane

    static let paths = ["apps/db", "apps/web", "apps/queue", "ops/backup", "ops/ci"]
    static let policyNames = ["web", "ops", "audit"]

    /// A batch of random writes decided by the production `DataPlane`, appended through the
    /// same log (which may refuse it), acknowledged only when durable.
    mutating func writeData() throws {
        guard var plane, let rootKey, let unlockedWith, unlockedWith == rootKey else { return }
        let keys = DataKeys(rootKey: try RootKey(bytes: rootKey), epoch: epoch)
        var commands: [(DataCommand, DataContext)] = []
        var values: [String: String] = [:]
        for index in 0..<Int.random(in: 1...4, using: &random) {
            let path = Self.paths.randomElement(using: &random)!
            let context = DataContext(actor: "spiffe://spike.test/spike/pilot/role/superuser", trail: "w\(index)", now: time.wall)
            switch Int.random(in: 0..<12, using: &random) {
            case 0..<5:
                let value = ["k": "v\(UInt32.random(in: 0...UInt32.max, using: &random))"]
                values[path + "#\(index)"] = value["k"]
                commands.append((.putSecret(path: path, sealed: try VersionSeal.seal(value, path: path, epoch: epoch, dataKey: keys.data), cas: nil), context))
            case 5..<7:
                commands.append((.deleteSecret(path: path, versions: []), context))
            case 7:
                commands.append((.undeleteSecret(path: path, versions: []), context))
            case 8:
                let name = Self.policyNames.randomElement(using: &random)!
                commands.append((.putPolicy(name: name, spiffeidPattern: "^spiffe://spike\\.test/workload/\(name)$", pathPattern: "^apps/",
                                            permissions: [.read]), context))
            case 9:
                commands.append((.deletePolicy(name: Self.policyNames.randomElement(using: &random)!), context))
            case 10:
                commands.append((.destroySecret(path: path, versions: []), context))
            default:
                commands.append((.denyAccess(AccessDenied(operation: "read", path: path, wants: ["read"], at: time.wall)), context))
            }
        }
        let before = Self.fingerprint(plane.projection)
        let decision = plane.decide(commands, keys: keys)
        guard !decision.events.isEmpty else { return }
        for event in decision.events { try checkSealed(event) }
        guard now >= logRefusesUntil else {
            stats.writesRefused += decision.events.count
            // Refused: nothing is in the log, nothing changed.
            guard Self.fingerprint(plane.projection) == before else { throw violation("a refused write changed the data") }
            return
        }
        log += decision.events
        stats.events += decision.events.count
        for entry in decision.keyChanges.puts { keyTable[entry.id] = entry.value }
        for id in decision.keyChanges.deletes { keyTable[id] = nil }
        plane.apply(decision)
        self.plane = plane
        for event in decision.events {
            guard let put = event.payload as? SecretPut else { continue }
            let index = Int(event.trail.dropFirst())!
            acknowledgedValues[put.path, default: [:]][put.version] = ["k": values[put.path + "#\(index)"]!]
        }
        stats.writesAcknowledged += decision.events.count
    }

    /// The projection's content, for comparing two of them (compiled policies are not Equatable).
    struct Fingerprint: Equatable {
        var secrets: [String: SecretEntry]
        var policies: [String]
        var accessDenials: Int
    }

    static func fingerprint(_ projection: DataProjection) -> Fingerprint {
        Fingerprint(secrets: projection.secrets, policies: projection.policies.keys.sorted().map { name in
            let policy = projection.policies[name]!
            return "\(name):\(policy.spiffeidPattern):\(policy.pathPattern):\(policy.permissions):\(policy.createdAt):\(policy.updatedAt)"
        }, accessDenials: projection.accessDenials)
    }

    /// Every acknowledged write survives: the data the log folds to is what the running Nexus
    /// holds, and every version it holds opens, with the data key, to the value that was put.
    func checkData() throws {
        guard let plane, let rootKey else { return }
        var replayed = DataProjection()
        for event in log { replayed.apply(event) }
        guard Self.fingerprint(replayed) == Self.fingerprint(plane.projection) else {
            throw violation("the log folds to other data than the Nexus holds")
        }
        let keys = DataKeys(rootKey: try RootKey(bytes: rootKey), epoch: epoch)
        for (path, entry) in plane.projection.secrets {
            for version in entry.versions.values where !version.destroyed {
                guard let wrapped = plane.versionKeys[version.keyID],
                      let json = try? VersionSeal.openJSON(version.sealedValue, wrappedKey: wrapped, keyID: version.keyID, path: path,
                                                           version: version.version, epoch: version.epoch, dataKey: keys.data),
                      let value = try? JSONDecoder().decode([String: String].self, from: Data(json)),
                      value == acknowledgedValues[path]?[version.version]
                else { throw violation("\(path) version \(version.version) does not open to the value acknowledged") }
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
            queue.schedule(at: now + timeout, .pollReply(nexusLife: nexusLife, keeper: keeper, result: .unreachable("timeout"), sentAt: now))
            return
        }
        let latency = latency(keeper)
        if latency > timeout {
            queue.schedule(at: now + timeout, .pollReply(nexusLife: nexusLife, keeper: keeper, result: .unreachable("timeout"), sentAt: now))
            return
        }
        let result: NexusLifecycle.PollResult = keepers[keeper - 1].share.map { .shard($0) } ?? .empty
        queue.schedule(at: now + latency, .pollReply(nexusLife: nexusLife, keeper: keeper, result: result, sentAt: now))
    }

    mutating func sendShare(_ keeper: Int, share: [UInt8], rehydration: NexusLifecycle.Rehydration?) {
        guard reachable(keeper) else {
            queue.schedule(at: now + timeout, .contributeReply(nexusLife: nexusLife, keeper: keeper, rehydration: rehydration, succeeded: false))
            return
        }
        let latency = latency(keeper)
        queue.schedule(at: now + latency / 2, .shareArrives(keeper: keeper, keeperLife: keepers[keeper - 1].life, share: share))
        queue.schedule(at: now + min(latency, timeout),
                 .contributeReply(nexusLife: nexusLife, keeper: keeper, rehydration: rehydration, succeeded: latency <= timeout))
    }

    mutating func deliver(_ delivery: Delivery) throws {
        switch delivery {
        case .pollReply(let life, let keeper, let result, let sentAt):
            guard life == nexusLife, nexus != nil else { return }
            pollsAnswered += 1
            try feed(.pollCompleted(keeper: keeper, result: result, latencyMillis: now - sentAt))
        case .shareArrives(let keeper, let life, let share):
            if keepers[keeper - 1].up, keepers[keeper - 1].life == life {
                keepers[keeper - 1].share = share
                if share == distributed[keeper] { heldCurrentShare.insert(keeper) }
            }
        case .contributeReply(let life, let keeper, let rehydration, let succeeded):
            guard life == nexusLife, nexus != nil else { return }
            try feed(.contributeCompleted(keeper: keeper, rehydration: rehydration, succeeded: succeeded))
        case .nexusRestart:
            if nexus == nil { try startNexus() }
        case .keeperRestart(let keeper):
            restartKeeper(keeper)
        case .passwordUnwrapped(let life, let key, let admin):
            guard life == nexusLife, nexus != nil else { return }
            try feed(.passwordUnwrapped(try key.map { try RootKey(bytes: $0) }, admin: admin))
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
            try checkData()
            crashNexus()
        case 15..<50:
            guard keepers[keeper - 1].up else { return }
            keepers[keeper - 1].up = false
            keepers[keeper - 1].share = nil
            keepers[keeper - 1].life += 1
            stats.keeperCrashes += 1
            queue.schedule(at: now + Int64.random(in: 0...30_000, using: &random), .keeperRestart(keeper: keeper))
        case 50..<75:
            keepers[keeper - 1].partitionedUntil = now + Int64.random(in: 1000...30_000, using: &random)
            stats.partitions += 1
        case 75..<86:
            keepers[keeper - 1].slowUntil = now + Int64.random(in: 1000...20_000, using: &random)
        case 86..<90:
            // The disk fills up for a while: every append is refused.
            logRefusesUntil = now + Int64.random(in: 100...8000, using: &random)
        case 90..<93:
            // The wall clock steps back (NTP, an operator) by up to an hour.
            wallOffset -= Int64.random(in: 1000...3_600_000, using: &random)
            stats.clockStepsBack += 1
        case 93..<96:
            // An admin runs `spike recover`, with the right password or a wrong one.
            guard nexus != nil, rootKey != nil, offeredRightPassword == nil else { return }
            offeredRightPassword = Bool.random(using: &random)
            try feed(.passwordAttempt(actor: "spiffe://spike.test/spike/pilot/role/recover", trail: "recover"))
        case 96..<99:
            // An operator runs `spike operator recover` (ready), or `spike operator restore` once
            // for each of `threshold` recovery shards, now and then a wrong one (sealed).
            guard let nexus, rootKey != nil else { return }
            if nexus.phase == .ready {
                // Or a superuser rotates the root key (refused while the last rotation is not
                // complete), or adds, changes or removes an admin (any name, existing or not).
                let name = "admin-\(Int.random(in: 1...4, using: &random))"
                let command: OperatorCommand = switch Int.random(in: 0..<6, using: &random) {
                case 0: .exportShards
                case 1, 2: .rotate
                case 3: .addAdmin(name)
                case 4: .changeAdmin(Bool.random(using: &random) ? name : admins.randomElement(using: &random)!)
                default: .removeAdmin(Bool.random(using: &random) ? name : admins.randomElement(using: &random)!)
                }
                let id = nextRequest
                nextRequest += 1
                adminCommands[id] = command
                try feed(.operatorCommand(command, OperatorRequest(id: id, actor: "spiffe://spike.test/spike/pilot/role/superuser", trail: "operator")))
                return
            }
            if offeredShards.life != nexusLife { offeredShards = (nexusLife, [:]) }
            for index in (1...keepers.count).shuffled(using: &random).prefix(threshold) {
                guard self.nexus?.phase == .sealed else { break }
                let right = Int.random(in: 0..<8, using: &random) > 0
                let value = right ? distributed[index]! : (0..<32).map { _ in UInt8.random(in: 1...255, using: &random) }
                if offeredShards.right[index] == nil { offeredShards.right[index] = right }
                let id = nextRequest
                nextRequest += 1
                try feed(.operatorCommand(.restoreShard(Shamir.Share(index: UInt8(index), value: value)),
                                          OperatorRequest(id: id, actor: "spiffe://spike.test/spike/pilot/role/restore", trail: "restore")))
            }
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
        // Every poll is accounted for: in the log, or pending in the machine.
        guard pollsLogged + nexus.pollsNotInLog == pollsAnswered else {
            throw violation("\(pollsAnswered) polls answered, \(pollsLogged) in the log and \(nexus.pollsNotInLog) not yet")
        }
        // The data is open exactly while the Nexus holds the root key.
        guard (unlockedWith != nil) == (nexus.phase == .ready) else {
            throw violation("the data is \(unlockedWith == nil ? "locked" : "unlocked") while the Nexus is \(nexus.phase)")
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
