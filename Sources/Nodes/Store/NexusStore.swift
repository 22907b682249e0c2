import Crypto
import EventLog
import Foundation
import NexusCore
import Projections
import Synchronization

/// The Nexus' secrets and policies: a `DataPlane` in memory, written only through the log.
/// Writes queue up; one loop takes everything queued, decides it on a snapshot of the plane,
/// appends the resulting events and key-table changes in one transaction (group commit: one
/// fsync for all of them), and only then applies them and answers. Reads take the lock for a
/// lookup, never wait for a write, and open sealed values outside the lock.
public final class NexusStore: Sendable {
    private struct State: Sendable {
        var plane: DataPlane
        var keys: DataKeys?
        /// The folded events whose authenticators wait for the root key.
        var unverified: UnverifiedEvents
    }

    private struct Pending: Sendable {
        var command: DataCommand
        var actor: String
        var trail: String
        var reply: @Sendable (DataOutcome) -> Void
    }

    /// A rotation waiting its turn in the write loop: between two batches, never inside one.
    private struct Rotation: Sendable {
        var events: [DomainEvent]
        var next: DataKeys
        var link: KeyTableEntry
        var recipients: [LogRecipient]
        var reply: @Sendable (Result<ClosedRange<UInt64>, RotationError>) -> Void
    }

    private enum Work: Sendable {
        case write(Pending)
        case rotation(Rotation)
    }

    /// What the write loop shares with the handlers (the loop holds this, not the store).
    private final class Core: Sendable {
        let log: any EventStore
        let maxVersions: Int
        let state: Mutex<State>
        let queue = Mutex<(pending: [Work], stopped: Bool)>(([], false))

        init(log: any EventStore, maxVersions: Int, state: State) {
            self.log = log
            self.maxVersions = maxVersions
            self.state = Mutex(state)
        }
    }

    private let core: Core
    /// The most writes decided and committed together (bounds a batch's latency and memory).
    static let maxBatch = 4096
    private let wakeups: AsyncStream<Void>.Continuation
    private let loop: Task<Void, Never>
    public var maxVersions: Int { core.maxVersions }

    /// A store serving `projection` once `unlock` has checked the authenticators of `unverified`,
    /// the events it was folded from.
    public init(log: any EventStore, projection: DataProjection, unverified: UnverifiedEvents, versionKeys: [[UInt8]: [UInt8]], maxVersions: Int) {
        let core = Core(log: log, maxVersions: maxVersions,
                        state: State(plane: DataPlane(projection: projection, versionKeys: versionKeys, maxVersions: maxVersions),
                                     keys: nil, unverified: unverified))
        self.core = core
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wakeups = continuation
        loop = Task {
            for await _ in stream {
                while true {
                    // The writes queued before the next rotation, or that rotation alone.
                    let work = core.queue.withLock { queue -> ([Pending], Rotation?) in
                        if case .rotation(let rotation)? = queue.pending.first {
                            queue.pending.removeFirst()
                            return ([], rotation)
                        }
                        var taken: [Pending] = []
                        while taken.count < Self.maxBatch, case .write(let pending)? = queue.pending.first {
                            taken.append(pending)
                            queue.pending.removeFirst()
                        }
                        return (taken, nil)
                    }
                    if let rotation = work.1 {
                        await Self.rotate(rotation, core: core)
                    } else if work.0.isEmpty {
                        break
                    } else {
                        await Self.commit(work.0, core: core)
                    }
                }
            }
        }
    }

    deinit { wakeups.finish() }

    /// Makes the data readable and writable: checks that the root key confirms every event the
    /// projection was folded from, then derives the keys of `epoch`. Throws, and stays locked,
    /// when one fails: that record was written without the root key, and nothing it may have
    /// granted is served.
    public func unlock(rootKey: RootKey, epoch: UInt32, previous: PreviousKeys = PreviousKeys()) throws(ReplayError) {
        try core.state.withLock { $0.unverified }.authenticate(with: rootKey, epoch: epoch, previous: previous)
        let keys = DataKeys(rootKey: rootKey, epoch: epoch, previous: previous)
        core.state.withLock {
            $0.keys = keys
            $0.unverified = UnverifiedEvents()
        }
    }

    /// Forgets the keys: reads and writes answer not-ready again.
    public func lock() {
        core.state.withLock { $0.keys = nil }
    }

    public var isUnlocked: Bool { core.state.withLock { $0.keys != nil } }

    /// Seals values for a put under a new version key (nil until unlocked). This is the costly
    /// part of a write, so it runs in the caller's task, in parallel, not in the commit loop.
    public func seal(_ values: [String: String], path: String) throws(KeyError) -> VersionSeal.Sealed? {
        guard let keys = core.state.withLock({ $0.keys }) else { return nil }
        return try VersionSeal.seal(values, path: path, epoch: keys.epoch, dataKey: keys.data)
    }

    /// Queues a write and returns once it is durable (or refused).
    public func write(_ command: DataCommand, actor: String, trail: String) async -> DataOutcome {
        await withCheckedContinuation { continuation in
            let accepted = core.queue.withLock { queue -> Bool in
                guard !queue.stopped else { return false }
                queue.pending.append(.write(Pending(command: command, actor: actor, trail: trail, reply: { continuation.resume(returning: $0) })))
                return true
            }
            if accepted { wakeups.yield() } else { continuation.resume(returning: .failed("the Nexus is stopping")) }
        }
    }

    /// A root-key rotation's transaction (ADR-0009): between two batches of writes, every version
    /// key is re-wrapped under `next`'s data key and appended with `events` and the link in one
    /// transaction; the writes after it are sealed, wrapped and authenticated under `next`, in
    /// records of its epoch (`recipients`). Returns the events' sequences.
    public func rotate(_ events: [DomainEvent], to next: DataKeys, link: KeyTableEntry,
                       recipients: [LogRecipient]) async -> Result<ClosedRange<UInt64>, RotationError> {
        await withCheckedContinuation { continuation in
            let accepted = core.queue.withLock { queue -> Bool in
                guard !queue.stopped else { return false }
                queue.pending.append(.rotation(Rotation(events: events, next: next, link: link, recipients: recipients,
                                                        reply: { continuation.resume(returning: $0) })))
                return true
            }
            if accepted { wakeups.yield() } else { continuation.resume(returning: .failure(.refused("the Nexus is stopping"))) }
        }
    }

    public enum RotationError: Error, Equatable, Sendable, CustomStringConvertible {
        case refused(String)

        public var description: String {
            switch self { case .refused(let why): why }
        }
    }

    /// Stops taking writes; those queued are still committed.
    public func stop() async {
        core.queue.withLock { $0.stopped = true }
        wakeups.yield()
        wakeups.finish()
        await loop.value
    }

    // MARK: - Reads

    public enum SecretRead: Equatable, Sendable {
        case value([String: String])
        case notFound
        case notReady
        case damaged(String)
    }

    /// The values of `path` at `version` (0 = current), opened now.
    public func secret(_ path: String, version: Int) -> SecretRead {
        switch secretJSON(path, version: version) {
        case .json(let json):
            guard let values = try? JSONDecoder().decode([String: String].self, from: json) else { return .notFound }
            return .value(values)
        case .notFound: return .notFound
        case .notReady: return .notReady
        case .damaged(let problem): return .damaged(problem)
        }
    }

    public enum SecretJSONRead: Equatable, Sendable {
        /// The values as the JSON object they were sealed as.
        case json(Data)
        case notFound
        case notReady
        /// A live version whose key is missing from the key table or does not open its value: the
        /// log's key table was changed outside an event (`spike log verify` names every such version).
        case damaged(String)
    }

    private enum SecretLookupMiss: Error { case notReady, notFound }

    /// The values of `path` at `version` (0 = current) as a JSON object, opened now.
    public func secretJSON(_ path: String, version: Int) -> SecretJSONRead {
        let found = core.state.withLock { state -> Result<(SecretVersion, [UInt8]?, DataKeys), SecretLookupMiss> in
            guard let keys = state.keys else { return .failure(.notReady) }
            guard let version = state.plane.projection.secrets[path]?.readable(version) else { return .failure(.notFound) }
            return .success((version, state.plane.versionKeys[version.keyID], keys))
        }
        let version: SecretVersion, wrappedKey: [UInt8]?, keys: DataKeys
        switch found {
        case .success(let hit): (version, wrappedKey, keys) = hit
        case .failure(.notReady): return .notReady
        case .failure(.notFound): return .notFound
        }
        // A live version without its key cannot happen unless the key table was damaged: that is
        // said, not answered as a secret that is not there.
        guard let wrappedKey else {
            return .damaged(KeyTableCheck.Problem(path: path, version: version.version, kind: .missing).description)
        }
        guard let json = try? VersionSeal.openJSON(version.sealedValue, wrappedKey: wrappedKey, keyID: version.keyID,
                                                   path: path, version: version.version, epoch: version.epoch, dataKey: keys.data)
        else { return .damaged(KeyTableCheck.Problem(path: path, version: version.version, kind: .wrong).description) }
        return .json(json)
    }

    /// The entry of `path` when `version` (0 = current) is readable: SPIKE's metadata gate.
    public func metadata(_ path: String, version: Int) -> SecretEntry? {
        core.state.withLock { state in
            guard let entry = state.plane.projection.secrets[path], entry.readable(version) != nil else { return nil }
            return entry
        }
    }

    /// Every stored path, sorted.
    public func secretPaths() -> [String] {
        core.state.withLock { Array($0.plane.projection.secrets.keys) }.sorted()
    }

    public func policy(named name: String) -> Policy? {
        core.state.withLock { $0.plane.projection.policies[name] }
    }

    public func policies() -> [Policy] {
        core.state.withLock { Array($0.plane.projection.policies.values) }.sorted { $0.name < $1.name }
    }

    /// The projection as of the last commit (a copy-on-write snapshot: taking it copies
    /// nothing), for decisions that run outside the lock, such as policy matching.
    public var projection: DataProjection { core.state.withLock { $0.plane.projection } }

    /// The cipher key, once unlocked.
    public var cipherKey: SymmetricKey? { core.state.withLock { $0.keys?.cipher } }

    /// The keys a ciphertext may have been made with: the current one first, then those of the
    /// epochs before the last rotations.
    public var decryptionKeys: [SymmetricKey]? { core.state.withLock { $0.keys.map { [$0.cipher] + $0.previousCiphers } } }

    /// The root key as an AES-256 key, once unlocked: what SPIKE's Bootstrap encrypts with.
    var rootCipherKey: SymmetricKey? { core.state.withLock { $0.keys?.root } }

    public var counts: (secrets: Int, policies: Int, denials: Int) {
        core.state.withLock { ($0.plane.projection.secrets.count, $0.plane.projection.policies.count, $0.plane.projection.accessDenials) }
    }

    // MARK: - Group commit

    private static func rotate(_ rotation: Rotation, core: Core) async {
        guard let (plane, keys) = core.state.withLock({ state in state.keys.map { (state.plane, $0) } }) else {
            rotation.reply(.failure(.refused("the data is locked")))
            return
        }
        let rewrapped: [KeyTableEntry]
        do {
            rewrapped = try plane.rewrappedVersionKeys(from: keys, to: rotation.next)
        } catch {
            rotation.reply(.failure(.refused("\(error)")))
            return
        }
        do {
            let range = try await core.log.append(rotation.events.map { NewEvent(kind: $0.kind.number, body: $0.encoded()) },
                                                  keyChanges: KeyTableChanges(puts: rewrapped + [rotation.link]))
            // Before the next batch: its records are of the new epoch, under the new keys.
            core.log.setRecipients(rotation.recipients, epoch: rotation.next.epoch)
            core.state.withLock { state in
                state.plane.applyRotation(rotation.events, versionKeys: rewrapped)
                state.keys = rotation.next
            }
            rotation.reply(.success(range))
        } catch {
            FileHandle.standardError.write(Data("spike nexus: the log refused the rotation: \(error)\n".utf8))
            rotation.reply(.failure(.refused("\(error)")))
        }
    }

    private static func commit(_ batch: [Pending], core: Core) async {
        // Only this loop changes the plane, so the snapshot stays current until it applies.
        guard let (plane, keys) = core.state.withLock({ state in state.keys.map { (state.plane, $0) } }) else {
            for pending in batch { pending.reply(.notReady) }
            return
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let decision = plane.decide(batch.map { ($0.command, DataContext(actor: $0.actor, trail: $0.trail, now: now)) }, keys: keys)
        var outcomes = decision.outcomes
        if !decision.events.isEmpty {
            do {
                try await core.log.append(decision.newEvents(keys: keys), keyChanges: decision.keyChanges)
                core.state.withLock { $0.plane.apply(decision) }
            } catch {
                FileHandle.standardError.write(Data("spike nexus: the log refused \(decision.events.count) data events: \(error)\n".utf8))
                let failure = error as? LogError
                outcomes = DataPlane.failed(decision, reason: "\(error)", outOfSpace: failure?.isOutOfSpace ?? false,
                                            storeUnavailable: failure?.isStoreUnavailable ?? false)
            }
        }
        for (pending, outcome) in zip(batch, outcomes) { pending.reply(outcome) }
    }
}
