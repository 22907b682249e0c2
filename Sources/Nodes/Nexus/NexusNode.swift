import Crypto
import EventLog
import Foundation
import Projections
import SecretSharing
import Synchronization

/// The Nexus' lifecycle with its I/O attached: the log, the Keeper poller and the clock. One
/// loop owns the `NexusLifecycle` value and feeds it every input in order (poll answers, ticks,
/// commands); appends are awaited in the loop, so the machine sees them durable and in
/// sequence order, while polls and contributions run concurrently and report back as inputs.
/// HTTP handlers read a status snapshot and never wait for the loop.
public final class NexusNode: Sendable {
    enum Input: Sendable {
        case tick
        case pollCompleted(keeper: Int, result: NexusLifecycle.PollResult, latencyMillis: Int64)
        case contributeCompleted(keeper: Int, rehydration: NexusLifecycle.Rehydration?, succeeded: Bool)
        case initialize(EpochGenesis, actor: String, trail: String, reply: @Sendable (Result<Void, NexusError>) -> Void)
        case stop(reason: String, reply: @Sendable () -> Void)
    }

    public let configuration: NexusConfiguration
    public let log: EventLog
    public let nexusID: String
    private let auditKey: Curve25519.KeyAgreement.PrivateKey
    private let poller: KeeperPoller
    private let initialProjection: LifecycleProjection
    /// Secrets and policies; unlocked once the root key is in memory.
    public let store: NexusStore
    private let inputs: AsyncStream<Input>.Continuation
    private let stream: AsyncStream<Input>
    private let snapshot = Mutex<NexusStatus>(.starting)
    private let counters = Mutex(NexusMetrics())
    /// Set when the root key does not confirm the log's data events: the Nexus then refuses to
    /// serve (it stays not ready) whatever the lifecycle says.
    private let refusal = Mutex<ReplayError?>(nil)
    public let instance = UUID().uuidString.lowercased()

    /// Opens (or creates) the log in the data directory and folds it with the host audit key
    /// (`audit-key.pem` beside the log, created on first start, mode 0600). The data events'
    /// authenticators are checked once the root key is in memory, before anything is served.
    public init(configuration: NexusConfiguration, nexusID: String, poller: KeeperPoller) throws {
        self.configuration = configuration
        self.nexusID = nexusID
        self.poller = poller
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let keyPath = (configuration.dataDirectory as NSString).appendingPathComponent("audit-key.pem")
        auditKey = FileManager.default.fileExists(atPath: keyPath)
            ? try LogKeyFile.readPrivateKey(at: keyPath) : try LogKeyFile.create(at: keyPath)
        log = try EventLog.open(directory: configuration.dataDirectory)
        let projections = try NexusProjections.replay(log.reader(keyring: LogKeyring([auditKey])))
        initialProjection = projections.lifecycle
        store = NexusStore(log: log, projection: projections.data, unverified: projections.unverified,
                           versionKeys: try log.keyTable(), maxVersions: configuration.maxSecretVersions)
        if let genesis = initialProjection.genesis {
            log.setRecipients([LogRecipient(auditKey.publicKey), LogRecipient(try genesis.logRecipientKey())], epoch: genesis.epoch)
        } else {
            log.setRecipients([LogRecipient(auditKey.publicKey)], epoch: 0)
        }
        (stream, inputs) = AsyncStream.makeStream(of: Input.self)
    }

    public var status: NexusStatus { snapshot.withLock { $0 } }
    public var metrics: NexusMetrics { counters.withLock { $0 } }

    /// Runs the lifecycle until `stop`. Throws if the log refuses the start record.
    public func run() async throws {
        var machine = NexusLifecycle(
            configuration: .init(keepers: configuration.keepers, threshold: configuration.threshold,
                                 pollIntervalMillis: Int64(configuration.pollInterval / .milliseconds(1)),
                                 nexusID: nexusID, instance: instance, version: NexusNode.version),
            projection: initialProjection)
        try await perform(machine.start(now: Self.now()), on: &machine, fatal: true)
        publish(machine)
        let inputs = self.inputs
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                inputs.yield(.tick)
            }
        }
        defer { ticker.cancel() }
        for await input in stream {
            let now = Self.now()
            switch input {
            case .tick:
                try? await perform(machine.tick(now: now), on: &machine)
            case .pollCompleted(let keeper, let result, let latency):
                counters.withLock { $0.polls[PollKey(keeper: keeper, outcome: result.outcome), default: 0] += 1 }
                try? await perform(machine.pollCompleted(keeper: keeper, result: result, latencyMillis: latency, now: now), on: &machine)
            case .contributeCompleted(let keeper, let rehydration, let succeeded):
                if succeeded, rehydration != nil { counters.withLock { $0.rehydrations[keeper, default: 0] += 1 } }
                try? await perform(machine.contributeCompleted(keeper: keeper, rehydration: rehydration, succeeded: succeeded), on: &machine)
            case .initialize(let genesis, let actor, let trail, let reply):
                do {
                    let actions = try machine.initialize(genesis, actor: actor, trail: trail)
                    try await perform(actions, on: &machine, fatal: true)
                    // Ready (and the store unlocked) before the caller hears so.
                    publish(machine)
                    reply(.success(()))
                } catch let error as LifecycleError {
                    reply(.failure(error == .alreadyInitialized ? .alreadyInitialized : .refused("\(error)")))
                } catch {
                    reply(.failure(.logFailed("\(error)")))
                }
            case .stop(let reason, let reply):
                try? await perform(machine.stop(now: now, reason: reason), on: &machine)
                publish(machine)
                reply()
                return
            }
            publish(machine)
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
                return try EpochGenesis.create(epoch: 1, keepers: configuration.keepers, threshold: configuration.threshold,
                                               password: password, admin: actor, cost: cost, using: &generator)
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

    /// Records a clean stop (pending poll summaries, `NexusStopped`) and ends `run`.
    public func stop(reason: String) async {
        await store.stop()
        await withCheckedContinuation { continuation in
            inputs.yield(.stop(reason: reason, reply: { continuation.resume() }))
        }
        inputs.finish()
        log.close()
    }

    // MARK: - Carrying out actions

    private func perform(_ actions: [NexusLifecycle.Action], on machine: inout NexusLifecycle, fatal: Bool = false) async throws {
        for action in actions {
            switch action {
            case .append(let events):
                let range: ClosedRange<UInt64>
                do {
                    for event in events {
                        if let genesis = event.payload as? EpochStarted {
                            log.setRecipients([LogRecipient(auditKey.publicKey), LogRecipient(try genesis.logRecipientKey())], epoch: genesis.epoch)
                        }
                    }
                    range = try await log.append(events.map { NewEvent(kind: $0.kind.number, body: $0.encoded()) })
                } catch {
                    machine.appendFailed(events)
                    FileHandle.standardError.write(Data("spike nexus: the log refused \(events.map(\.kind.name)): \(error)\n".utf8))
                    if fatal { throw error }
                    continue
                }
                try await perform(machine.appended(events, first: range.lowerBound, now: Self.now()), on: &machine, fatal: fatal)
            case .poll(let keeper):
                let url = configuration.keepers[keeper - 1]
                let (poller, inputs) = (self.poller, self.inputs)
                Task {
                    let started = ContinuousClock.now
                    let result = await poller.poll(url)
                    let latency = Int64((ContinuousClock.now - started) / .milliseconds(1))
                    inputs.yield(.pollCompleted(keeper: keeper, result: result, latencyMillis: latency))
                }
            case .contribute(let keeper, let share, let rehydration):
                let url = configuration.keepers[keeper - 1]
                let (poller, inputs) = (self.poller, self.inputs)
                Task {
                    let succeeded = await poller.contribute(share.value, to: url)
                    inputs.yield(.contributeCompleted(keeper: keeper, rehydration: rehydration, succeeded: succeeded))
                }
            }
        }
    }

    private func publish(_ machine: NexusLifecycle) {
        if !store.isUnlocked, refusal.withLock({ $0 == nil }),
           let rootKey = machine.currentRootKey, let epoch = machine.projection.genesis?.epoch {
            do {
                try store.unlock(rootKey: rootKey, epoch: epoch)
            } catch {
                refusal.withLock { $0 = error }
                FileHandle.standardError.write(Data("spike nexus: refusing to serve: \(error)\n".utf8))
            }
        }
        var status = NexusStatus(machine, keeperURLs: configuration.keepers)
        if let refused = refusal.withLock({ $0 }) {
            status.ready = false
            status.reason = "refused: \(refused)"
        }
        snapshot.withLock { $0 = status }
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    public static let version = "0.1.0"
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

struct PollKey: Hashable, Sendable {
    var keeper: Int
    var outcome: KeeperPollOutcome
}

/// Counters since the process started, for `/metrics`.
public struct NexusMetrics: Sendable {
    var polls: [PollKey: Int] = [:]
    var rehydrations: [Int: Int] = [:]
}
