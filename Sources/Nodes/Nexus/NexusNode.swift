import Crypto
import EventLog
import Foundation
import NexusCore
import Projections
import SecretSharing
import SpikeAPI
import Synchronization

/// The Nexus' lifecycle with its I/O attached: the log, the Keeper poller, the data store and
/// the clocks. One loop owns the `NexusDriver` and feeds it every input in order (poll answers,
/// ticks, commands), carrying out each effect it gives: appends are awaited in the loop, so the
/// machine sees them durable and in sequence order, while polls and contributions run
/// concurrently and report back as inputs. HTTP handlers read a status snapshot and never wait
/// for the loop.
public final class NexusNode: Sendable {
    enum Input: Sendable {
        case driver(NexusDriver.Input)
        /// A Keeper answered for the first time in this process, with the head it witnessed.
        case firstWitness(keeper: Int, LogWitness)
        case initialize(EpochGenesis, actor: String, trail: String, reply: @Sendable (Result<Void, NexusError>) -> Void)
        /// The data store folded other replicas' events (`NexusStore.takeLogged`), or refused one.
        case follow
        case stop(reason: String)
    }

    public let configuration: NexusConfiguration
    /// The log (LMDB in the data directory, or PostgreSQL: `configuration.store`).
    public let log: any EventStore
    public let nexusID: String
    private let auditKey: Curve25519.KeyAgreement.PrivateKey
    private let poller: KeeperPoller
    private let initialProjection: LifecycleProjection
    /// The key table's link of a rotation that has not completed (ADR-0009).
    private let initialRotationLink: [UInt8]?
    /// The log's head when this process opened it, before it appended anything: what
    /// `--accept-log-head` names.
    private let openedHead: ChainHead
    /// Secrets and policies; unlocked once the root key is in memory.
    public let store: NexusStore
    private let inputs: AsyncStream<Input>.Continuation
    private let stream: AsyncStream<Input>
    private let snapshot = Mutex<NexusStatus>(.starting)
    /// `snapshot.ready`, apart: every data request reads it.
    private let serving = Atomic<Bool>(false)
    /// Counters and gauges for `/metrics`.
    public let metrics: NexusMetrics
    /// The machine's next deadline on the monotonic clock, for the ticker.
    private let deadline = Mutex<Int64>(0)
    private let clockOrigin = ContinuousClock.now
    /// The `spike recover` being answered: its password (until the attempt ends) and its caller.
    private let recovery = Mutex<(password: String, reply: @Sendable (NexusLifecycle.PasswordAttemptOutcome) -> Void)?>(nil)
    /// Operator commands being answered, by request id: the password an admin change wraps
    /// (until the wrap is made) and the caller.
    private let operatorRequests = Mutex<(next: UInt64, pending: [UInt64: (password: String?, reply: @Sendable (OperatorOutcome) -> Void)])>((1, [:]))
    /// Polls and contributions on their way: a stopped Nexus leaves none behind.
    private let exchanges = KeeperExchanges()
    /// Refusals counted between the writes of their summaries (`RefusalLedger`).
    private let refusals = Mutex(RefusalLedger())
    /// Witnessed heads (DESIGN §3): what the Keepers gave back; which Keepers have answered this
    /// process (a head goes only to those, so that none loses the head it held before it was
    /// read); and the root key our own heads are authenticated with, once the log proved to be
    /// the one witnessed (nil before, and for good after a rollback is found).
    private let witnessing = Mutex<(received: [Int: LogWitness], answered: Set<Int>, key: (rootKey: RootKey, epoch: UInt32)?)>(([:], [], nil))
    /// Whether `run` has returned, and who waits for it to (`stop`).
    private let loop = Mutex<(ended: Bool, stopWaiters: [@Sendable () -> Void])>((false, []))
    public let instance = UUID().uuidString.lowercased()
    /// The replica this process runs as (`NexusConfiguration.replica`, or the data directory's).
    public let replica: String

    /// Opens (or creates) the log in the data directory and folds it with the host audit key
    /// (`audit-key.pem` beside the log, created on first start, mode 0600). The data events'
    /// authenticators are checked once the root key is in memory, before anything is served.
    public init(configuration: NexusConfiguration, nexusID: String, poller: KeeperPoller) throws {
        self.configuration = configuration
        self.nexusID = nexusID
        self.poller = poller
        metrics = NexusMetrics(keepers: configuration.keepers.count)
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let keyPath = (configuration.dataDirectory as NSString).appendingPathComponent("audit-key.pem")
        auditKey = FileManager.default.fileExists(atPath: keyPath)
            ? try LogKeyFile.readPrivateKey(at: keyPath) : try LogKeyFile.create(at: keyPath)
        replica = try configuration.replica ?? Self.replicaName(in: configuration.dataDirectory)
        let log = try configuration.store.open(directory: configuration.dataDirectory)
        self.log = log
        openedHead = try log.head() ?? .empty(log.logID)
        let keyring = LogKeyring([auditKey])
        let projections: NexusProjections
        do {
            // The data is folded once the root key is here (`NexusStore.unlock`): from a snapshot
            // only R opens, and the log after it.
            projections = try NexusProjections.replay(log, keyring: keyring, foldingData: false)
        } catch let error as LogError where log.isShared {
            // Replicas of one log each need the audit key its records were sealed to.
            log.close()
            guard case .noKeyForSegment = error else { throw error }
            throw NexusStartError.auditKeyNotShared(keyFile: keyPath, reason: "\(error)")
        }
        // Share i lives on Keeper i: a Keeper list shorter (or longer) than the genesis' cannot
        // be polled, and no start can fix it.
        if let genesis = projections.lifecycle.genesis, genesis.keepers.count != configuration.keepers.count {
            log.close()
            throw LifecycleError.keeperPeersDifferFromGenesis(configured: configuration.keepers.count, genesis: genesis.keepers)
        }
        initialProjection = projections.lifecycle
        let keyTable = try log.keyTable()
        initialRotationLink = projections.lifecycle.pendingRotationLink.flatMap { keyTable[$0] }
        let (stream, inputs) = AsyncStream.makeStream(of: Input.self)
        (self.stream, self.inputs) = (stream, inputs)
        store = NexusStore(log: log, keyring: keyring, projections: projections, versionKeys: keyTable,
                           maxVersions: configuration.maxSecretVersions, snapshots: configuration.snapshots, onLogged: { inputs.yield(.follow) })
        // Until the lifecycle names an epoch (`useEpoch`), new segments are sealed to the audit key.
        log.setRecipients([LogRecipient(auditKey.publicKey)], epoch: 0)
    }

    /// The lifecycle's status, with how far the log is folded. A replica whose fold has been
    /// behind the committed head for longer than `NexusStore.lagTolerance` says so: `/readyz`
    /// answers not ready (its data routes still serve what it has folded).
    public var status: NexusStatus {
        Self.status(snapshot.withLock { $0 }, replica: replica, position: store.position.sequence, lag: store.lag)
    }

    /// The lifecycle's `status` with the log's fold: `position` the last record folded, `lag` the
    /// records known committed beyond it and for how long the fold has been behind.
    public static func status(_ lifecycle: NexusStatus, replica: String, position: UInt64,
                              lag: (records: UInt64, since: Duration?)) -> NexusStatus {
        var status = lifecycle
        status.log = NexusStatus.Log(replica: replica, position: position, head: position + lag.records,
                                     behindSeconds: lag.since.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 })
        if let since = lag.since, since > NexusStore.lagTolerance, status.ready {
            status.ready = false
            status.reason = "behind the log: \(lag.records) records other replicas appended are not folded yet, for \(since)"
        }
        return status
    }
    /// Whether the Nexus serves its data routes (the root key is in memory, the log authentic).
    public var isServing: Bool { serving.load(ordering: .acquiring) }

    /// The clocks, as the core takes them.
    private func now() -> NexusTime {
        NexusTime(wall: Int64(Date().timeIntervalSince1970 * 1000),
                  monotonic: Int64((ContinuousClock.now - clockOrigin) / .milliseconds(1)))
    }

    /// Runs the lifecycle until `stop`. Throws if the log refuses the start record.
    public func run() async throws {
        // However the loop ends (a stop, or the log refusing the start), `stop` callers return.
        defer {
            let waiting = loop.withLock { loop in
                loop.ended = true
                defer { loop.stopWaiters = [] }
                return loop.stopWaiters
            }
            for resume in waiting { resume() }
        }
        var lifecycle = NexusLifecycle.Configuration(
            keepers: configuration.keepers, threshold: configuration.threshold, pollIntervalMillis: Int64(configuration.pollInterval / .milliseconds(1)),
            nexusID: nexusID, instance: instance, version: NexusNode.version, replica: replica)
        lifecycle.firstPasswordWaitMillis = Int64(configuration.firstPasswordWait / .milliseconds(1))
        var driver = NexusDriver(NexusLifecycle(configuration: lifecycle, projection: initialProjection, rotationLink: initialRotationLink))
        try driver.handle(.start, at: now())
        try await drain(&driver)
        let ticker = Task { [self] in
            // Sleeps to the machine's next deadline (at most a quarter second, so that a deadline
            // brought forward by an input is not missed for long). A cancelled sleep ends the loop.
            while !Task.isCancelled {
                let wait = min(max(deadline.withLock { $0 } - now().monotonic, 5), 250)
                do { try await Task.sleep(for: .milliseconds(wait)) } catch { return }
                inputs.yield(.driver(.tick))
                await recordDueRefusals()
            }
        }
        defer { ticker.cancel() }
        // `spike init` hears back once `threshold` Keepers hold their shares (or it failed).
        var initialization: (@Sendable (Result<Void, NexusError>) -> Void)?
        func answerInitialization() {
            guard let reply = initialization else { return }
            if driver.machine.initializedElsewhere {
                reply(.failure(.alreadyInitialized))
            } else if let failure = driver.machine.initializationFailure {
                reply(.failure(.logFailed(failure)))
            } else if driver.machine.isServing {
                reply(.success(()))
            } else {
                return
            }
            initialization = nil
        }
        defer {
            recovery.withLock { pending in
                defer { pending = nil }
                return pending?.reply
            }?(.notSealed(driver.machine.phase))
        }
        defer {
            let unanswered = operatorRequests.withLock { requests in
                defer { requests.pending = [:] }
                return requests.pending.values.map(\.reply)
            }
            for reply in unanswered { reply(.refused(.stopping)) }
        }
        defer {
            initialization?(.failure(.refused("the Nexus stopped before \(driver.machine.threshold) Keepers held their shares; "
                + "it unseals from those that do at its next start, or use `spike recover`")))
        }
        for await input in stream {
            switch input {
            case .driver(let input):
                if case .pollCompleted(let keeper, let result, _) = input {
                    metrics.pollCompleted(keeper: keeper, outcome: result.outcome)
                }
                if case .contributeCompleted(let keeper, let rehydration, true) = input, rehydration != nil {
                    metrics.rehydrated(keeper: keeper)
                }
                try driver.handle(input, at: now())
                try await drain(&driver)
                answerInitialization()
            case .initialize(let genesis, let actor, let trail, let reply):
                do {
                    try driver.handle(.initialize(genesis, actor: actor, trail: trail), at: now())
                } catch {
                    reply(.failure(error == .alreadyInitialized ? .alreadyInitialized : .refused("\(error)")))
                    continue
                }
                try await drain(&driver)
                // Serving (the store unlocked, the shares out) before the caller hears so.
                initialization = reply
                answerInitialization()
            case .follow:
                // Other replicas' events, in log order; or the data refused one of their records.
                let logged = store.takeLogged()
                if !logged.isEmpty {
                    try driver.handle(.logged(logged), at: now())
                    try await drain(&driver)
                    answerInitialization()
                }
                if let refusal = store.refusal, driver.machine.refusal == nil {
                    try driver.handle(.dataRefused(refusal), at: now())
                    try await drain(&driver)
                }
            case .firstWitness(let keeper, let witness):
                // A Keeper first heard after the root key came back: its head is checked too.
                guard let key = witnessing.withLock({ $0.key }) else { continue }
                try checkWitnesses([keeper: witness], rootKey: key.rootKey, epoch: key.epoch, &driver)
                try await drain(&driver)
            case .stop(let reason):
                try driver.handle(.stop(reason: reason), at: now())
                try await drain(&driver)
                return
            }
        }
    }

    /// Carries out every effect the driver has, in order, and publishes the new status.
    private func drain(_ driver: inout NexusDriver) async throws {
        while let effect = driver.nextEffect() {
            switch effect {
            case .append(let events):
                report(await store.appendLifecycle(events), of: events, to: &driver)
            case .appendDecision(let events, let after):
                report(await store.appendLifecycle(events, decidedAfter: after), of: events, to: &driver)
            case .poll(let keeper):
                let url = configuration.keepers[keeper - 1]
                let (poller, inputs, head) = (self.poller, self.inputs, ownHead(for: keeper))
                exchanges.start { [self] in
                    let started = ContinuousClock.now
                    let (result, witness) = await poller.poll(url, head: head)
                    let latency = Int64((ContinuousClock.now - started) / .milliseconds(1))
                    let first = witnessing.withLock { state in
                        if let witness { state.received[keeper] = witness }
                        return state.answered.insert(keeper).inserted
                    }
                    if first, let witness { inputs.yield(.firstWitness(keeper: keeper, witness)) }
                    inputs.yield(.driver(.pollCompleted(keeper: keeper, result: result, latencyMillis: latency)))
                }
            case .contribute(let keeper, let share, let rehydration):
                let url = configuration.keepers[keeper - 1]
                let (poller, inputs, head) = (self.poller, self.inputs, ownHead(for: keeper))
                exchanges.start {
                    let succeeded = await poller.contribute(share.value, to: url, head: head)
                    inputs.yield(.driver(.contributeCompleted(keeper: keeper, rehydration: rehydration, succeeded: succeeded)))
                }
            case .useEpoch(let genesis):
                // A genesis whose epoch key does not decode cannot be written to: nothing else to do.
                log.setRecipients([LogRecipient(auditKey.publicKey), LogRecipient(try genesis.logRecipientKey())], epoch: genesis.epoch)
            case .unlockData(let rootKey, let epoch):
                do {
                    try unlockStore(rootKey: rootKey, epoch: epoch, driver.machine)
                } catch {
                    FileHandle.standardError.write(Data("spike nexus: refusing to serve: \(error)\n".utf8))
                    try driver.handle(.dataRefused("\(error)"), at: now())
                    continue
                }
                try checkWitnesses(witnessing.withLock { $0.received }, rootKey: rootKey, epoch: epoch, &driver)
            case .lockData:
                store.lock()
                witnessing.withLock { $0.key = nil }
            case .rekeyData(let rootKey, let epoch):
                // Another replica rotated: the data moves to the new keys, and our heads are
                // authenticated under the new root key.
                do {
                    try unlockStore(rootKey: rootKey, epoch: epoch, driver.machine)
                    witnessing.withLock { state in if state.key != nil { state.key = (rootKey, epoch) } }
                } catch {
                    FileHandle.standardError.write(Data("spike nexus: refusing to serve: \(error)\n".utf8))
                    try driver.handle(.dataRefused("\(error)"), at: now())
                }
            case .exit(let reason):
                throw NexusError.logFailed(reason)
            case .unwrapPassword(let wraps, let epoch):
                guard let password = recovery.withLock({ $0?.password }) else {
                    try driver.handle(.passwordUnwrapped(nil, admin: nil), at: now())
                    continue
                }
                let inputs = self.inputs
                // scrypt takes a quarter second and 128 MiB per wrap: not on the loop (and awaited
                // by a stop, as the Keeper exchanges are).
                exchanges.start {
                    var opened: (RootKey, String)?
                    for wrap in wraps {
                        if let key = try? wrap.unwrap(password: password, epoch: epoch) {
                            opened = (key, wrap.admin)
                            break
                        }
                    }
                    inputs.yield(.driver(.passwordUnwrapped(opened?.0, admin: opened?.1)))
                }
            case .wrapPassword(let request, let admin, let rootKey, let epoch):
                guard let password = operatorRequests.withLock({ $0.pending[request]?.password }) else {
                    try driver.handle(.passwordWrapped(request: request, .failure(.wrapFailed("no password came with the request"))), at: now())
                    continue
                }
                let (inputs, cost, at) = (self.inputs, configuration.passwordCost, now().wall)
                exchanges.start {
                    var generator = SystemRandomNumberGenerator()
                    let wrap = Result { () throws(KeyError) -> PasswordWrap in
                        try PasswordWrap.wrap(rootKey, password: password, admin: admin, epoch: epoch, cost: cost, at: at, using: &generator)
                    }.mapError { OperatorRefusal.wrapFailed($0.description) }
                    inputs.yield(.driver(.passwordWrapped(request: request, wrap)))
                }
            case .prepareRotation(let request, let rootKey, let current, let currentRotation, let epoch):
                // No scrypt here: a split, a few seals, one per admin. On the loop.
                var generator = SystemRandomNumberGenerator()
                let rotation = Result { () throws(KeyError) -> RootKeyRotation in
                    try RootKeyRotation.create(from: rootKey, current: current, currentRotation: currentRotation, epoch: epoch,
                                               at: now().wall, using: &generator)
                }.mapError { OperatorRefusal.rotationImpossible($0.description) }
                try driver.handle(.rotationPrepared(request: request, rotation), at: now())
            case .appendRotation(let events, let rotation, let after):
                Failpoint.rotationBeforeCommit.hit()
                let result: Result<ClosedRange<UInt64>, NexusStore.RotationError>
                do {
                    let next = DataKeys(rootKey: rotation.rootKey, epoch: rotation.event.epoch,
                                        previous: try PreviousKeys.open(rotation.event.previousKeys, rootKey: rotation.rootKey,
                                                                        epoch: rotation.event.epoch))
                    let recipients = [LogRecipient(auditKey.publicKey), LogRecipient(try rotation.event.next.logRecipientKey())]
                    result = await store.rotate(events, to: next, link: KeyTableEntry(id: Array(rotation.event.link), value: rotation.linkValue),
                                                recipients: recipients, decidedAfter: after)
                } catch {
                    result = .failure(.refused("\(error)"))
                }
                switch result {
                case .success(let range):
                    Failpoint.rotationAfterCommit.hit()
                    // Our heads are authenticated under the new root key from now on.
                    witnessing.withLock { state in if state.key != nil { state.key = (rotation.rootKey, rotation.event.epoch) } }
                    driver.appendSucceeded(first: range.lowerBound, after: store.takeLogged(before: range.lowerBound), at: now())
                case .failure(let error):
                    driver.appendFailed("\(error)", at: now())
                }
            case .completeRotation(let events, let link, let after):
                Failpoint.rotationBeforeCompletion.hit()
                report(await store.appendLifecycle(events, keyChanges: KeyTableChanges(deletes: [link]), decidedAfter: after), of: events, to: &driver)
            case .answerOperator(let request, let outcome):
                operatorRequests.withLock { $0.pending.removeValue(forKey: request) }?.reply(outcome)
            case .answerPasswordAttempt(let outcome):
                recovery.withLock { pending in
                    defer { pending = nil }
                    return pending?.reply
                }?(outcome)
            }
        }
        deadline.withLock { $0 = driver.machine.nextDeadline() }
        let status = NexusStatus(driver.machine, keeperURLs: configuration.keepers)
        snapshot.withLock { $0 = status }
        serving.store(status.ready, ordering: .releasing)
    }

    /// Opens the data under the keys of `epoch`, with those of the epochs the last rotation
    /// carried over (their ciphertexts and authenticators still check).
    private func unlockStore(rootKey: RootKey, epoch: UInt32, _ machine: NexusLifecycle) throws {
        let previous = try machine.projection.rotation.map { rotation throws(KeyError) in
            try PreviousKeys.open(rotation.previousKeys, rootKey: rootKey, epoch: rotation.epoch)
        } ?? PreviousKeys()
        let firstFold = store.dataFoldReport == nil
        try store.unlock(rootKey: rootKey, epoch: epoch, previous: previous)
        if firstFold, let report = store.dataFoldReport {
            let from = report.snapshot.map { "the snapshot of record \($0) and " } ?? ""
            let millis = Int(report.duration / .milliseconds(1))
            FileHandle.standardError.write(Data("spike nexus: data folded from \(from)\(report.records) records of the log in \(millis) ms\n".utf8))
        }
    }

    /// Tells the driver how an append of the lifecycle's went, with the other replicas' events
    /// before it (or, for a decision that lost, all of them).
    private func report(_ outcome: NexusStore.LifecycleAppendOutcome, of events: [DomainEvent], to driver: inout NexusDriver) {
        switch outcome {
        case .appended(let range):
            driver.appendSucceeded(first: range.lowerBound, after: store.takeLogged(before: range.lowerBound), at: now())
        case .conflicted:
            driver.appendConflicted(after: store.takeLogged(), at: now())
        case .failed(let reason):
            FileHandle.standardError.write(Data("spike nexus: the log refused \(events.map(\.kind.name)): \(reason)\n".utf8))
            driver.appendFailed(reason, at: now())
        }
    }

    /// Initializes the system with the admin's password (the superuser's `spike init`): a new
    /// root key, the genesis and one share per Keeper, durable before this returns.
    public func initialize(password: String, actor: String, trail: String, cost: PasswordWrap.Cost = .standard) async throws(NexusError) {
        guard status.state == .uninitialized else { throw .alreadyInitialized }
        let configuration = self.configuration
        let epoch = initialProjection.nextEpoch
        let genesis: EpochGenesis
        do {
            // scrypt takes a quarter second and 128 MiB: not on the loop.
            genesis = try await Task.detached {
                var generator = SystemRandomNumberGenerator()
                return try EpochGenesis.create(epoch: epoch, keepers: configuration.keepers, threshold: configuration.threshold,
                                               password: password, admin: actor, cost: cost,
                                               at: Int64(Date().timeIntervalSince1970 * 1000), using: &generator)
            }.value
        } catch let error as KeyError {
            throw .refused(error.description)
        } catch {
            throw .refused("\(error)")
        }
        let result: Result<Void, NexusError> = await withCheckedContinuation { continuation in
            inputs.yield(.initialize(genesis, actor: actor, trail: trail, reply: { continuation.resume(returning: $0) }))
        }
        try result.get()
    }

    /// `spike recover`: offers an admin's password for the sealed Nexus. Answers once the
    /// attempt is decided (the root key restored and the Keepers being re-seeded, or why not);
    /// the password is dropped when the attempt ends and never written anywhere.
    public func recover(password: String, actor: String, trail: String) async -> NexusLifecycle.PasswordAttemptOutcome {
        await withCheckedContinuation { continuation in
            let reply: @Sendable (NexusLifecycle.PasswordAttemptOutcome) -> Void = { continuation.resume(returning: $0) }
            let started = recovery.withLock { pending in
                guard pending == nil else { return false }
                pending = (password, reply)
                return true
            }
            guard started else {
                reply(.busy)
                return
            }
            if case .terminated = inputs.yield(.driver(.passwordAttempt(actor: actor, trail: trail))) {
                recovery.withLock { $0 = nil }
                reply(.notSealed(.sealed))
            }
        }
    }

    /// An operator command (recovery shards, admin passwords), answered once the lifecycle has
    /// decided it (an export or an admin change once its event is durable). `password` is the
    /// one an admin change wraps; it is dropped when the command ends and never written anywhere.
    public func operate(_ command: OperatorCommand, password: String? = nil, actor: String, trail: String) async -> OperatorOutcome {
        await withCheckedContinuation { continuation in
            let id = operatorRequests.withLock { requests in
                let id = requests.next
                requests.next += 1
                requests.pending[id] = (password, { continuation.resume(returning: $0) })
                return id
            }
            let request = OperatorRequest(id: id, actor: actor, trail: trail)
            if case .terminated = inputs.yield(.driver(.operatorCommand(command, request))) {
                operatorRequests.withLock { $0.pending.removeValue(forKey: id) }?.reply(.refused(.stopping))
            }
        }
    }

    /// A caller was refused: counted by the ledger, and what it gives is written (through the
    /// data store, or while that is locked through the lifecycle, which writes in every phase).
    public func refused(_ key: RefusalLedger.Key, trail: String) async {
        let writes = refusals.withLock { $0.refused(key, trail: trail, at: now().wall) }
        for write in writes { await record(write) }
    }

    private func record(_ write: RefusalLedger.Write) async {
        if await store.write(.denyAccess(write.denied), actor: write.actor, trail: write.trail) == .notReady {
            inputs.yield(.driver(.refusal(write.denied, actor: write.actor, trail: write.trail)))
        }
    }

    /// The ledger's summaries whose window has ended.
    private func recordDueRefusals() async {
        for write in refusals.withLock({ $0.due(at: now().wall) }) { await record(write) }
    }

    /// The head to hand Keeper `keeper` to witness: none before the log proved to be the one the
    /// Keepers witnessed, none after it did not, and none to a Keeper whose own head is unread.
    private func ownHead(for keeper: Int) -> LogWitness? {
        guard let key = witnessing.withLock({ $0.answered.contains(keeper) ? $0.key : nil }),
              let head = try? log.head() else { return nil }
        return LogWitness(head: head, logID: log.logID, epoch: key.epoch, rootKey: key.rootKey)
    }

    /// Checks the witnessed heads against the log (`LogWitnessCheck`): consistent, the Nexus hands
    /// out its own heads from now on; rolled back, it is recorded and nothing is served, unless the
    /// operator started this process accepting the log's head (`--accept-log-head`).
    private func checkWitnesses(_ witnesses: [Int: LogWitness], rootKey: RootKey, epoch: UInt32, _ driver: inout NexusDriver) throws {
        let head: ChainHead
        let verdict: LogWitnessCheck.Verdict
        do {
            head = try log.head() ?? .empty(log.logID)
            verdict = try LogWitnessCheck.check(witnesses, logID: log.logID, rootKey: rootKey, epoch: epoch, head: head, at: now().wall) {
                try log.link(at: $0)
            }.verdict
        } catch {
            FileHandle.standardError.write(Data("spike nexus: refusing to serve: the witnessed heads cannot be checked: \(error)\n".utf8))
            try driver.handle(.dataRefused("the witnessed heads cannot be checked: \(error)"), at: now())
            return
        }
        switch verdict {
        case .consistent:
            witnessing.withLock { $0.key = (rootKey, epoch) }
        case .rolledBack(let finding) where configuration.acceptLogHead == openedHead.sequence:
            let acceptance = LogHeadAccepted(logSequence: openedHead.sequence, logLink: openedHead.hash.description,
                                             witnessedSequence: finding.witnessedSequence, witnessedLink: finding.witnessedLink,
                                             acceptedBy: configuration.logHeadAcceptedBy, at: now().wall)
            FileHandle.standardError.write(Data("spike nexus: accepting the log's head \(openedHead.sequence) over \(finding.summary)\n".utf8))
            try driver.handle(.logHeadAccepted(acceptance, actor: configuration.logHeadAcceptedBy), at: now())
            witnessing.withLock { $0.key = (rootKey, epoch) }
        case .rolledBack(let finding):
            FileHandle.standardError.write(Data(("spike nexus: refusing to serve: \(finding.summary). If this log is the one to keep "
                + "(a restore from a backup): stop the Nexus, read its head with `spike log head --data-dir \(configuration.dataDirectory)`, "
                + "and start it with --accept-log-head <that sequence>\n").utf8))
            witnessing.withLock { $0.key = nil }
            try driver.handle(.logRolledBack(finding), at: now())
        }
    }

    /// Records a clean stop (pending poll summaries, `NexusStopped`) and ends `run`.
    public func stop(reason: String) async {
        // Every refusal counted is written before the store closes.
        for write in refusals.withLock({ $0.drain() }) { await record(write) }
        // The writes queued are committed; the lifecycle's last events go through the store after them.
        await store.stopTakingWrites()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ended = loop.withLock { loop in
                if !loop.ended { loop.stopWaiters.append { continuation.resume() } }
                return loop.ended
            }
            if ended { continuation.resume() } else { inputs.yield(.stop(reason: reason)) }
        }
        inputs.finish()
        // Their answers no longer matter; they must not reach a Keeper after the stop.
        await exchanges.cancelAndWait()
        await store.stop()
        log.close()
    }

    public static let version = "0.1.0"

    /// The replica name kept in `directory` (`replica`), made at the first start: a Nexus keeps
    /// its lane in the log across restarts.
    static func replicaName(in directory: String) throws -> String {
        let path = (directory as NSString).appendingPathComponent("replica")
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard NexusConfiguration.isReplicaName(name) else {
                throw ConfigurationError.invalid(path, "holds \"\(name)\", not a replica name: remove it (a new one is made) or set SPIKE_NEXUS_REPLICA")
            }
            return name
        }
        let name = "nexus-" + UUID().uuidString.lowercased().prefix(8)
        try (name + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return name
    }
}

/// Why a Nexus cannot start.
public enum NexusStartError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A replica of a shared log whose audit key does not open what the other replicas wrote.
    case auditKeyNotShared(keyFile: String, reason: String)

    public var description: String {
        switch self {
        case .auditKeyNotShared(let keyFile, let reason):
            "this replica's audit key (\(keyFile)) does not open the records other Nexus replicas wrote to the shared log (\(reason)): "
                + "every replica needs the same audit key; copy audit-key.pem (mode 0600) from the data directory of the replica that created the log"
        }
    }
}

/// What the Nexus refuses to do, with the HTTP answer it maps to.
public enum NexusError: Error, Equatable, Sendable, CustomStringConvertible {
    case alreadyInitialized
    case refused(String)
    case logFailed(String)

    public var description: String {
        switch self {
        case .alreadyInitialized: "the system is already initialized"
        case .refused(let why): why
        case .logFailed(let why): "the log refused the write: \(why)"
        }
    }
}

/// The Keeper requests a Nexus has in flight, each in a task of its own, so that a stop can
/// cancel them and wait for them.
final class KeeperExchanges: Sendable {
    private let tasks = Mutex<(next: Int, running: [Int: Task<Void, Never>])>((0, [:]))

    func start(_ exchange: @escaping @Sendable () async -> Void) {
        tasks.withLock { state in
            let id = state.next
            state.next += 1
            state.running[id] = Task { [self] in
                await exchange()
                _ = tasks.withLock { $0.running.removeValue(forKey: id) }
            }
        }
    }

    func cancelAndWait() async {
        let running = tasks.withLock { state in
            defer { state.running = [:] }
            return Array(state.running.values)
        }
        for task in running { task.cancel() }
        for task in running { await task.value }
    }
}
