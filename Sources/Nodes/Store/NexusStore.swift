import Crypto
import EventLog
import Foundation
import NexusCore
import NIOCore
import Projections
import Synchronization

/// The Nexus' secrets and policies, and the one writer of its log. The data is a `DataPlane` in
/// memory, changed only through the log; every event the Nexus writes (data, lifecycle, a
/// rotation) is appended by this store's loop, right after the last record it folded
/// (`EventStore.append(_:keyChanges:after:)`). When the log has moved on (another replica
/// appended), the loop folds what was appended (data into the plane, the rest kept for the
/// lifecycle: `takeLogged`) and decides again: two replicas writing one secret get versions 1…N,
/// none lost and none twice (docs/adr/0016). On a shared log a follower folds other replicas'
/// records as they are committed, so reads see them within the follow lag.
///
/// Writes queue up; the loop takes everything queued, decides it on a snapshot of the plane,
/// appends the resulting events and key-table changes in one transaction (group commit: one
/// fsync for all of them), and only then applies them and answers. The loop runs on the log
/// writer's thread (`EventStore.writerExecutor`, ADR-0027), so nothing is handed between two
/// threads from one batch to the next. Reads take the lock for a lookup, never wait for a write,
/// and open sealed values outside the lock.
public final class NexusStore: Sendable {
    private struct State: Sendable {
        var plane: DataPlane
        var keys: DataKeys?
        /// The folded events whose authenticators wait for the root key.
        var unverified: UnverifiedEvents
        /// The epoch the last rotation opened (records of earlier epochs after it are refused).
        var openedByRotation: UInt32?
        /// The last record folded into the plane (or appended by this store): the next append
        /// goes right after it, and the log is followed from it.
        var position: ChainHead
        /// Other replicas' events that are not the data's, folded here, for the lifecycle.
        var logged: [LoggedEvent] = []
        /// The last decision (`NexusLifecycle.decisionKinds`) another replica appended, as folded:
        /// a decision taken before it is not appended (`LifecycleAppendOutcome.conflicted`).
        var lastForeignDecision: UInt64 = 0
        /// Why the data is not served: a record another writer appended did not fold.
        var refusal: String?
        /// The highest head known to be committed, and since when the fold has been behind it.
        var followed: UInt64 = 0
        var behindSince: ContinuousClock.Instant?
        /// The data events are not folded yet: the first `unlock` folds them, from the latest
        /// snapshot and the log's tail (ADR-0017). Until then the plane is empty and unserved.
        var dataPending = false
        /// Others' records were folded while the data was pending: the key table read at the
        /// start may hold keys they shredded.
        var foldedOthersWhilePending = false
        /// The record the latest snapshot stands for (stored, or being stored), and when it was taken.
        var snapshotAt: UInt64 = 0
        var snapshotTakenAt = ContinuousClock.now
        var snapshotInFlight = false
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
        var decidedAfter: UInt64
        var reply: @Sendable (Result<ClosedRange<UInt64>, RotationError>) -> Void
    }

    /// Lifecycle events to append (`appendLifecycle`).
    private struct LifecycleAppend: Sendable {
        var events: [DomainEvent]
        var keyChanges: KeyTableChanges
        var decidedAfter: UInt64?
        var reply: @Sendable (LifecycleAppendOutcome) -> Void
    }

    private enum Work: Sendable {
        case write(Pending)
        case rotation(Rotation)
        case lifecycle(LifecycleAppend)
        /// Fold what others appended, through at least `head` (the follower saw it committed).
        case follow(head: UInt64, reply: @Sendable (Bool) -> Void)
        /// Answered once everything queued before it is done.
        case barrier(@Sendable () -> Void)
        /// A snapshot, if one is due for this reason.
        case snapshot(SnapshotReason)
    }

    private enum SnapshotReason {
        /// `SnapshotPolicy.everyEvents` records since the last one.
        case count
        /// `SnapshotPolicy.interval` since the last one, if the log moved.
        case time
        /// A clean stop, if the log moved.
        case stop
    }

    /// What the write loop shares with the handlers (the loop holds this, not the store).
    private final class Core: Sendable {
        let log: any EventStore
        let keyring: LogKeyring
        let maxVersions: Int
        let state: Mutex<State>
        /// Queued work; data writes and rotations refused once `writesStopped`, everything once `stopped`.
        let queue = Mutex<(pending: [Work], writesStopped: Bool, stopped: Bool)>(([], false, false))
        /// Told when other replicas' events are waiting in `logged`, or the data was refused.
        let onLogged: @Sendable () -> Void
        let snapshots: SnapshotPolicy?
        let report = Mutex<DataFoldReport?>(nil)
        /// Held by a fold of others' records and by the first unlock's fold of the data: the
        /// latter folds through the position, which the former moves.
        let folding = Mutex(())
        /// Snapshots are sealed and stored here: a blocking write, never in the write loop.
        let snapshotQueue = DispatchQueue(label: "spike-snapshot-writer")

        init(log: any EventStore, keyring: LogKeyring, maxVersions: Int, state: State, snapshots: SnapshotPolicy?,
             onLogged: @escaping @Sendable () -> Void) {
            self.log = log
            self.keyring = keyring
            self.maxVersions = maxVersions
            self.state = Mutex(state)
            self.snapshots = snapshots
            self.onLogged = onLogged
        }
    }

    private let core: Core
    /// The most writes decided and committed together (bounds a batch's latency and memory).
    static let maxBatch = 4096
    /// How many times a batch is decided again because other replicas appended first, before
    /// its writes are answered as failed (each round folds what they appended: it cannot loop
    /// unless they keep winning).
    static let maxAttempts = 64
    /// A fold behind the committed head for longer than this is reported (`/readyz`).
    public static let lagTolerance: Duration = .seconds(5)
    private let wakeups: AsyncStream<Void>.Continuation
    private let loop: Task<Void, Never>
    private let follower: Task<Void, Never>?
    private let snapshotTimer: Task<Void, Never>?
    public var maxVersions: Int { core.maxVersions }

    /// A store serving `projections.data` once `unlock` has checked the authenticators of the
    /// events it was folded from; it appends after `projections.head`, opens other replicas'
    /// records with `keyring`, and calls `onLogged` when there are some for `takeLogged`. When the
    /// projections left the data unfolded (`NexusProjections.dataFolded`), the first `unlock`
    /// folds it. With `snapshots`, it writes snapshots of the data as that policy says.
    public init(log: any EventStore, keyring: LogKeyring, projections: NexusProjections, versionKeys: [[UInt8]: [UInt8]], maxVersions: Int,
                snapshots: SnapshotPolicy? = nil, onLogged: @escaping @Sendable () -> Void = {}) {
        let position = projections.head ?? .empty(log.logID)
        let core = Core(log: log, keyring: keyring, maxVersions: maxVersions, state: State(
            plane: DataPlane(projection: projections.data, versionKeys: versionKeys, maxVersions: maxVersions),
            keys: nil, unverified: projections.unverified, openedByRotation: projections.dataFold.openedByRotation,
            position: position, followed: position.sequence, dataPending: !projections.dataFolded),
            snapshots: snapshots, onLogged: onLogged)
        self.core = core
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        wakeups = continuation
        // On the log writer's thread: each batch's append is committed as the loop makes it.
        loop = Task(executorPreference: log.writerExecutor) {
            for await _ in stream {
                while let work = Self.take(core) {
                    switch work {
                    case .writes(let batch): await Self.commit(batch, core: core)
                    case .rotation(let rotation): await Self.rotate(rotation, core: core)
                    case .lifecycle(let append): append.reply(await Self.appendLifecycle(append, core: core))
                    case .follow(let head, let reply): reply(Self.follow(through: head, core: core))
                    case .barrier(let reply): reply()
                    case .snapshot(let reason): Self.snapshotIfDue(core, reason)
                    }
                }
            }
        }
        // Other replicas' records: folded as they are committed (LISTEN/NOTIFY, and a read of the
        // head every second in any case); a fold that failed (the store away) is tried again.
        follower = log.isShared ? Task { [core, wakeups] in
            var seen = position.sequence
            while !Task.isCancelled, let head = await core.log.waitForHead(beyond: seen) {
                guard head > seen else { continue }
                seen = head
                core.state.withLock { state in
                    state.followed = max(state.followed, head)
                    if state.position.sequence < state.followed, state.behindSince == nil { state.behindSince = .now }
                }
                let folded = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let queued = core.queue.withLock { queue -> Bool in
                        guard !queue.stopped else { return false }
                        queue.pending.append(.follow(head: head, reply: { continuation.resume(returning: $0) }))
                        return true
                    }
                    if queued { wakeups.yield() } else { continuation.resume(returning: true) }
                }
                if !folded {
                    do { try await Task.sleep(for: .seconds(1)) } catch { return }
                    seen = core.state.withLock { $0.position.sequence }
                }
            }
        } : nil
        snapshotTimer = snapshots.map { policy in
            Task { [core, wakeups = continuation] in
                while (try? await Task.sleep(for: policy.interval)) != nil {
                    let queued = core.queue.withLock { queue -> Bool in
                        guard !queue.stopped else { return false }
                        queue.pending.append(.snapshot(.time))
                        return true
                    }
                    if queued { wakeups.yield() }
                }
            }
        }
    }

    deinit {
        follower?.cancel()
        snapshotTimer?.cancel()
        wakeups.finish()
    }

    private enum Taken {
        case writes([Pending])
        case rotation(Rotation)
        case lifecycle(LifecycleAppend)
        case follow(head: UInt64, reply: @Sendable (Bool) -> Void)
        case barrier(@Sendable () -> Void)
        case snapshot(SnapshotReason)
    }

    /// The writes queued before the next other work, or that work alone.
    private static func take(_ core: Core) -> Taken? {
        core.queue.withLock { queue -> Taken? in
            guard let first = queue.pending.first else { return nil }
            switch first {
            case .rotation(let rotation):
                queue.pending.removeFirst()
                return .rotation(rotation)
            case .lifecycle(let append):
                queue.pending.removeFirst()
                return .lifecycle(append)
            case .follow(let head, let reply):
                queue.pending.removeFirst()
                return .follow(head: head, reply: reply)
            case .barrier(let reply):
                queue.pending.removeFirst()
                return .barrier(reply)
            case .snapshot(let reason):
                queue.pending.removeFirst()
                return .snapshot(reason)
            case .write:
                var taken: [Pending] = []
                while taken.count < Self.maxBatch, case .write(let pending)? = queue.pending.first {
                    taken.append(pending)
                    queue.pending.removeFirst()
                }
                return .writes(taken)
            }
        }
    }

    /// Queues `work` unless the store stopped taking it; false if it did.
    private func enqueue(_ work: Work) -> Bool {
        let accepted = core.queue.withLock { queue -> Bool in
            if queue.stopped { return false }
            switch work {
            case .write, .rotation: if queue.writesStopped { return false }
            case .lifecycle, .follow, .barrier, .snapshot: break
            }
            queue.pending.append(work)
            return true
        }
        if accepted { wakeups.yield() }
        return accepted
    }

    /// Makes the data readable and writable: checks that the root key confirms every event the
    /// projection was folded from, then derives the keys of `epoch`. Throws, and stays locked,
    /// when one fails: that record was written without the root key, and nothing it may have
    /// granted is served. Also how the data moves to the keys of another replica's rotation.
    /// The first unlock of a store whose data is not folded yet folds it first: from the latest
    /// snapshot that checks, and the log after it (ADR-0017); it throws when a record does not fold.
    public func unlock(rootKey: RootKey, epoch: UInt32, previous: PreviousKeys = PreviousKeys()) throws {
        let keys = DataKeys(rootKey: rootKey, epoch: epoch, previous: previous)
        let folded = core.state.withLock { $0.dataPending }
        if folded { try core.folding.withLock { _ in try Self.foldData(core, keys: keys) } }
        try core.state.withLock { $0.unverified }.authenticate(with: rootKey, epoch: epoch, previous: previous)
        core.state.withLock {
            $0.keys = keys
            $0.unverified = UnverifiedEvents()
        }
        // A start that folded many records of the log leaves a snapshot of them at once.
        if folded { _ = enqueue(.snapshot(.count)) }
    }

    /// How the first unlock folded the data: from the snapshot of which record (nil: the whole
    /// log), how many records of the log on top, and how long it took.
    public struct DataFoldReport: Sendable, Equatable {
        public var snapshot: UInt64?
        /// Why the latest snapshot was not used, if there was one.
        public var ignored: SnapshotError?
        public var records: UInt64
        public var duration: Duration
    }

    /// Set once the first unlock folded the data (nil for a store given folded projections).
    public var dataFoldReport: DataFoldReport? { core.report.withLock { $0 } }

    /// The data's fold, from the latest snapshot that checks (else from the first record) through
    /// the position; the version keys read again (others' records folded meanwhile may have
    /// shredded some). Under `Core.folding`: nothing else moves the position meanwhile but this
    /// process' own lifecycle appends, which the loop below takes too.
    private static func foldData(_ core: Core, keys: DataKeys) throws {
        let started = ContinuousClock.now
        let position = core.state.withLock { $0.position.sequence }
        let (snapshot, ignored) = usableSnapshot(core, keys: keys, through: position)
        var fold = snapshot?.fold ?? DataFold()
        var folded = snapshot?.header.sequence ?? 0
        while true {
            let through = core.state.withLock { $0.position.sequence }
            if folded < through {
                // Bodies are decoded on the reader's workers (JSON decoding is most of the cost),
                // and folded here in log order.
                try core.log.reader(keyring: core.keyring).replayChunks(from: folded + 1, through: through, transform: { chunk in
                    var decoded: [DecodedRecord] = []
                    decoded.reserveCapacity(chunk.count)
                    try chunk.forEach { view in
                        guard let event = try DomainEvent.toFold(view) else { return }
                        decoded.append(DecodedRecord(sequence: view.sequence, epoch: view.header.epoch, authenticator: view.authenticator(), event: event))
                    }
                    return decoded
                }, deliver: { decoded in
                    for record in decoded {
                        try fold.apply(record.event, sequence: record.sequence, epoch: record.epoch, authenticator: record.authenticator)
                    }
                })
                folded = through
            }
            // The key table as read at the start holds every live version's key, unless others'
            // records folded since shredded some: then it is read again.
            let versionKeys = core.state.withLock { $0.foldedOthersWhilePending } ? try core.log.keyTable() : nil
            let done = core.state.withLock { state -> Bool in
                guard state.position.sequence == folded else { return false }
                state.plane = DataPlane(projection: fold.data, versionKeys: versionKeys ?? state.plane.versionKeys, maxVersions: core.maxVersions)
                state.unverified = fold.unverified
                state.openedByRotation = fold.openedByRotation
                state.dataPending = false
                state.snapshotAt = snapshot?.header.sequence ?? 0
                return true
            }
            if done { break }
        }
        core.report.withLock {
            $0 = DataFoldReport(snapshot: snapshot?.header.sequence, ignored: ignored, records: folded - (snapshot?.header.sequence ?? 0),
                                duration: started.duration(to: .now))
        }
    }

    /// The latest snapshot, if it is of this log through a record at most `position`, of the
    /// current epoch, and opens under its snapshot key; else nil, and why (also said on stderr).
    private static func usableSnapshot(_ core: Core, keys: DataKeys, through position: UInt64) -> (ProjectionSnapshot?, SnapshotError?) {
        let stored: StoredSnapshot
        do {
            guard let latest = try core.log.latestSnapshot() else { return (nil, nil) }
            stored = latest
        } catch {
            FileHandle.standardError.write(Data("spike nexus: the snapshots could not be read, the whole log is folded: \(error)\n".utf8))
            return (nil, nil)
        }
        do throws(SnapshotError) {
            let header = try ProjectionSnapshot.Header(stored: stored.bytes)
            guard header.epoch == keys.epoch else { throw .otherEpoch(snapshot: header.epoch, current: keys.epoch) }
            guard header.sequence <= position else { throw .ahead(snapshot: header.sequence, folded: position) }
            guard header.sequence == stored.sequence, (try? core.log.link(at: header.sequence)) == header.link
            else { throw .notOfThisLog(sequence: header.sequence) }
            return (try ProjectionSnapshot.open(stored.bytes, with: keys.snapshot), nil)
        } catch {
            FileHandle.standardError.write(Data("spike nexus: the snapshot of record \(stored.sequence) is ignored, the whole log is folded: \(error)\n".utf8))
            return (nil, error)
        }
    }

    /// Forgets the keys: reads and writes answer not-ready again.
    public func lock() {
        core.state.withLock { $0.keys = nil }
    }

    public var isUnlocked: Bool { core.state.withLock { $0.keys != nil } }

    /// Why the data stopped being served while following the log (a record another writer
    /// appended did not fold or authenticate), if it did.
    public var refusal: String? { core.state.withLock { $0.refusal } }

    /// Seals values for a put under a new version key (nil until unlocked). This is the costly
    /// part of a write, so it runs in the caller's task, in parallel, not in the commit loop.
    public func seal(_ values: [String: String], path: String) throws(KeyError) -> VersionSeal.Sealed? {
        guard let (epoch, dataKey) = core.state.withLock({ state in state.keys.map { ($0.epoch, $0.data) } }) else { return nil }
        return try VersionSeal.seal(values, path: path, epoch: epoch, dataKey: dataKey)
    }

    /// Queues a write and returns once it is durable (or refused).
    public func write(_ command: DataCommand, actor: String, trail: String) async -> DataOutcome {
        await withCheckedContinuation { continuation in
            write(command, actor: actor, trail: trail) { continuation.resume(returning: $0) }
        }
    }

    /// Queues a write; `reply` is called once it is durable (or refused), on the write loop
    /// (or at once, on this thread, when the store is stopping). It must not block.
    public func write(_ command: DataCommand, actor: String, trail: String, reply: @escaping @Sendable (DataOutcome) -> Void) {
        if !enqueue(.write(Pending(command: command, actor: actor, trail: trail, reply: reply))) { reply(.failed("the Nexus is stopping")) }
    }

    /// A root-key rotation's transaction (ADR-0009): between two batches of writes, every version
    /// key is re-wrapped under `next`'s data key and appended with `events` and the link in one
    /// transaction; the writes after it are sealed, wrapped and authenticated under `next`, in
    /// records of its epoch (`recipients`). Refused when another replica appended a decision
    /// (`NexusLifecycle.decisionKinds`) after record `decidedAfter`, the last the lifecycle had
    /// folded when it decided the rotation. Returns the events' sequences.
    public func rotate(_ events: [DomainEvent], to next: DataKeys, link: KeyTableEntry, recipients: [LogRecipient],
                       decidedAfter: UInt64) async -> Result<ClosedRange<UInt64>, RotationError> {
        await withCheckedContinuation { continuation in
            let reply: @Sendable (Result<ClosedRange<UInt64>, RotationError>) -> Void = { continuation.resume(returning: $0) }
            if !enqueue(.rotation(Rotation(events: events, next: next, link: link, recipients: recipients, decidedAfter: decidedAfter,
                                           reply: reply))) {
                reply(.failure(.refused("the Nexus is stopping")))
            }
        }
    }

    public enum RotationError: Error, Equatable, Sendable, CustomStringConvertible {
        case refused(String)

        public var description: String {
            switch self { case .refused(let why): why }
        }
    }

    /// What became of lifecycle events given to `appendLifecycle`.
    public enum LifecycleAppendOutcome: Sendable {
        case appended(ClosedRange<UInt64>)
        /// A decision not appended: another replica appended a decision first (in `takeLogged`).
        case conflicted
        /// Nothing was appended, for this reason.
        case failed(String)
    }

    /// Appends the lifecycle's events (with `keyChanges` in their transaction), after whatever
    /// other replicas appended. A decision taken on the log through record `decidedAfter` is
    /// appended only if no other replica appended a decision (`NexusLifecycle.decisionKinds`)
    /// after that record; the lifecycle then decides again on what `takeLogged` gives it.
    public func appendLifecycle(_ events: [DomainEvent], keyChanges: KeyTableChanges = KeyTableChanges(),
                                decidedAfter: UInt64? = nil) async -> LifecycleAppendOutcome {
        await withCheckedContinuation { continuation in
            let reply: @Sendable (LifecycleAppendOutcome) -> Void = { continuation.resume(returning: $0) }
            if !enqueue(.lifecycle(LifecycleAppend(events: events, keyChanges: keyChanges, decidedAfter: decidedAfter, reply: reply))) {
                reply(.failed("the Nexus is stopping"))
            }
        }
    }

    /// Other replicas' lifecycle events folded so far (before sequence `end`, if given), in log
    /// order, taken out: the lifecycle folds each once.
    public func takeLogged(before end: UInt64? = nil) -> [LoggedEvent] {
        core.state.withLock { state in
            let cut = end.map { end in state.logged.firstIndex { $0.sequence >= end } ?? state.logged.count } ?? state.logged.count
            defer { state.logged.removeFirst(cut) }
            return Array(state.logged[..<cut])
        }
    }

    /// How far the fold is behind the head known to be committed (other replicas' records not
    /// folded yet), and for how long it has been.
    public var lag: (records: UInt64, since: Duration?) {
        core.state.withLock { state in
            (state.followed > state.position.sequence ? state.followed - state.position.sequence : 0,
             state.behindSince.map { $0.duration(to: .now) })
        }
    }

    /// The last record folded.
    public var position: ChainHead { core.state.withLock { $0.position } }

    /// Stops taking data writes and rotations, and returns once those queued are committed;
    /// lifecycle appends (a stop's last events) are still taken until `stop`.
    /// The last data written is in a snapshot by then (the next start folds only what follows).
    public func stopTakingWrites() async {
        core.queue.withLock { $0.writesStopped = true }
        _ = enqueue(.snapshot(.stop))
        let queue = core.snapshotQueue
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            // Once the loop has taken the snapshot, and the snapshot queue has stored it.
            if !enqueue(.barrier({ queue.async { continuation.resume() } })) { continuation.resume() }
        }
    }

    /// Stops taking anything; what is queued is still appended.
    public func stop() async {
        core.queue.withLock {
            $0.writesStopped = true
            $0.stopped = true
        }
        follower?.cancel()
        await follower?.value
        snapshotTimer?.cancel()
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
        var json = ByteBuffer()
        switch secretJSON(path, version: version, appendingTo: &json) {
        case .appended:
            guard let values = try? JSONDecoder().decode([String: String].self, from: Data(json.readableBytesView)) else { return .notFound }
            return .value(values)
        case .notFound: return .notFound
        case .notReady: return .notReady
        case .damaged(let problem): return .damaged(problem)
        }
    }

    public enum SecretJSONRead: Equatable, Sendable {
        /// The values as the JSON object they were sealed as, appended to the buffer.
        case appended
        case notFound
        case notReady
        /// A live version whose key is missing from the key table or does not open its value: the
        /// log's key table was changed outside an event (`spike log verify` names every such version).
        case damaged(String)
    }

    /// What a read takes out of the store's lock: the version's sealed value and wrapped key, and
    /// the data key alone of the epoch's keys. Copying out the whole version and the epoch's keys
    /// (to be destructured after the lock) retained and released each of their members: 34
    /// retains and releases per read in this function, 13 now (counted with uprobes).
    private struct SealedVersion {
        let number: Int
        let epoch: UInt32
        let keyID: [UInt8]
        let sealedValue: [UInt8]
        let wrappedKey: [UInt8]?
        let dataKey: DataKey
    }

    /// The values of `path` at `version` (0 = current) as a JSON object, opened now into `buffer`
    /// (the read route's response: no copy in between); `buffer` is as it was unless appended.
    public func secretJSON(_ path: String, version: Int, appendingTo buffer: inout ByteBuffer) -> SecretJSONRead {
        var miss = SecretJSONRead.notFound
        let found = core.state.withLock { state -> SealedVersion? in
            guard let dataKey = state.keys?.data else {
                miss = .notReady
                return nil
            }
            guard let found = state.plane.projection.secrets[path]?.readable(version) else { return nil }
            return SealedVersion(number: found.version, epoch: found.epoch, keyID: found.keyID, sealedValue: found.sealedValue,
                                 wrappedKey: state.plane.versionKeys[found.keyID], dataKey: dataKey)
        }
        guard let version = consume found else { return miss }
        // A live version without its key cannot happen unless the key table was damaged: that is
        // said, not answered as a secret that is not there.
        guard let wrappedKey = version.wrappedKey else {
            return .damaged(KeyTableCheck.Problem(path: path, version: version.number, kind: .missing).description)
        }
        var wrong: SecretJSONRead { .damaged(KeyTableCheck.Problem(path: path, version: version.number, kind: .wrong).description) }
        guard let count = version.sealedValue.withUnsafeBytes(VersionSeal.openedCount) else { return wrong }
        // Nothing is appended unless the value opened (a failed open wipes what it wrote).
        let appended = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { free in
            let opened: ()? = try? VersionSeal.openJSON(version.sealedValue, wrappedKey: wrappedKey, keyID: version.keyID, path: path,
                                                        version: version.number, epoch: version.epoch, dataKey: version.dataKey,
                                                        into: UnsafeMutableRawBufferPointer(rebasing: free[..<count]))
            return opened == nil ? 0 : count
        }
        guard appended == count else { return wrong }
        return .appended
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

    // MARK: - Appending after the position

    /// How an append right after the position went.
    private enum Placed<T> {
        case appended(T)
        /// Another replica appended first; what it appended is folded now.
        case moved
        case failed(any Error)
    }

    /// Appends `events` right after the position and moves the position past them; when another
    /// replica appended first, folds what it appended instead (`moved`: the caller decides again).
    private static func place(_ events: [NewEvent], keyChanges: KeyTableChanges, core: Core) async -> Placed<ClosedRange<UInt64>> {
        let position = core.state.withLock { $0.position }
        do {
            let head = try await core.log.append(events, keyChanges: keyChanges, after: position)
            let range = (head.sequence - UInt64(events.count) + 1)...head.sequence
            core.state.withLock { state in
                state.position = head
                state.followed = max(state.followed, head.sequence)
                if state.position.sequence >= state.followed { state.behindSince = nil }
            }
            return .appended(range)
        } catch LogError.headMoved {
            return catchUp(core: core).map { .failed($0) } ?? .moved
        } catch {
            return .failed(error)
        }
    }

    /// Runs a decision and its append in this replica's turn (`EventStore.inTurn`): on a shared
    /// log, what the other replicas appended is folded first, so the first try usually lands.
    private static func inTurn<T>(_ core: Core, failed: (any Error) -> T, _ body: () async -> T) async -> T {
        do {
            return try await core.log.inTurn {
                // A fold that fails here (the store away, a refused record) is met again by the append.
                if core.log.isShared { _ = catchUp(core: core) }
                return await body()
            }
        } catch {
            return failed(error)
        }
    }

    private static func rotate(_ rotation: Rotation, core: Core) async {
        rotation.reply(await inTurn(core, failed: { .failure(.refused("\($0)")) }) {
            for _ in 0..<Self.maxAttempts {
                guard let (plane, keys) = core.state.withLock({ state in state.keys.map { (state.plane, $0) } }) else {
                    return .failure(.refused("the data is locked"))
                }
                if core.state.withLock({ $0.lastForeignDecision > rotation.decidedAfter }) {
                    return .failure(.refused("another Nexus replica changed the root key, its shares or the admins meanwhile; try again"))
                }
                let rewrapped: [KeyTableEntry]
                do {
                    rewrapped = try plane.rewrappedVersionKeys(from: keys, to: rotation.next)
                } catch {
                    return .failure(.refused("\(error)"))
                }
                switch await place(rotation.events.map { NewEvent(kind: $0.kind.number, body: $0.encoded()) },
                                   keyChanges: KeyTableChanges(puts: rewrapped + [rotation.link]), core: core) {
                case .appended(let range):
                    // Before the next batch: its records are of the new epoch, under the new keys.
                    core.log.setRecipients(rotation.recipients, epoch: rotation.next.epoch)
                    core.state.withLock { state in
                        state.plane.applyRotation(rotation.events, versionKeys: rewrapped)
                        state.keys = rotation.next
                        state.openedByRotation = rotation.next.epoch
                    }
                    return .success(range)
                case .moved:
                    continue
                case .failed(let error):
                    FileHandle.standardError.write(Data("spike nexus: the log refused the rotation: \(error)\n".utf8))
                    return .failure(.refused("\(error)"))
                }
            }
            return .failure(.refused("other Nexus replicas kept appending first; try again"))
        })
    }

    private static func appendLifecycle(_ append: LifecycleAppend, core: Core) async -> LifecycleAppendOutcome {
        let events = append.events.map { NewEvent(kind: $0.kind.number, body: $0.encoded()) }
        return await inTurn(core, failed: { .failed("\($0)") }) {
            for _ in 0..<Self.maxAttempts {
                if let decided = append.decidedAfter, core.state.withLock({ $0.lastForeignDecision > decided }) {
                    return .conflicted
                }
                switch await place(events, keyChanges: append.keyChanges, core: core) {
                case .appended(let range): return .appended(range)
                case .moved: continue
                case .failed(let error): return .failed("\(error)")
                }
            }
            return .failed("other Nexus replicas kept appending first")
        }
    }

    private static func commit(_ batch: [Pending], core: Core) async {
        let outcomes = await inTurn(core, failed: { error in batch.map { _ in failedWrite(error) } }) { () async -> [DataOutcome] in
            for _ in 0..<Self.maxAttempts {
                // Only this loop changes the plane, so the snapshot stays current until it applies.
                guard let (plane, keys) = core.state.withLock({ state in state.keys.map { (state.plane, $0) } }) else {
                    return batch.map { _ in .notReady }
                }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                let decision = plane.decide(batch.map { ($0.command, DataContext(actor: $0.actor, trail: $0.trail, now: now)) }, keys: keys)
                guard !decision.events.isEmpty else { return decision.outcomes }
                switch await place(decision.newEvents(keys: keys), keyChanges: decision.keyChanges, core: core) {
                case .appended:
                    core.state.withLock { $0.plane.apply(decision) }
                    snapshotIfDue(core, .count)
                    return decision.outcomes
                case .moved:
                    // Decided again on the plane with the other replicas' writes in it.
                    continue
                case .failed(let error):
                    FileHandle.standardError.write(Data("spike nexus: the log refused \(decision.events.count) data events: \(error)\n".utf8))
                    return decision.outcomes.map { _ in failedWrite(error) }
                }
            }
            return batch.map { _ in .failed("other Nexus replicas kept appending first; try again") }
        }
        for (pending, outcome) in zip(batch, outcomes) { pending.reply(outcome) }
    }

    // MARK: - Snapshots

    /// Takes a snapshot of the plane when one is due and hands it to the snapshot queue. In the
    /// write loop only, between two pieces of work: there the plane is exactly the fold through
    /// the position (a commit moves the position, then applies its decision).
    private static func snapshotIfDue(_ core: Core, _ reason: SnapshotReason) {
        guard let (snapshot, key) = takeSnapshot(core, reason) else { return }
        core.snapshotQueue.async { store(snapshot, key: key, core: core) }
    }

    private static func takeSnapshot(_ core: Core, _ reason: SnapshotReason) -> (ProjectionSnapshot, SymmetricKey)? {
        guard let policy = core.snapshots else { return nil }
        return core.state.withLock { state -> (ProjectionSnapshot, SymmetricKey)? in
            guard let keys = state.keys, !state.dataPending, state.refusal == nil, !state.snapshotInFlight,
                  state.position.sequence > state.snapshotAt else { return nil }
            switch reason {
            case .count:
                // A snapshot's size grows with the secrets held: taken at most every quarter as
                // many records, it costs about four of its entries per record written (and a start
                // after a crash folds at most that many records after it).
                let every = max(policy.everyEvents, UInt64(state.plane.projection.secrets.count / 4))
                guard state.position.sequence - state.snapshotAt >= every else { return nil }
            case .time: guard state.snapshotTakenAt.duration(to: .now) >= policy.interval else { return nil }
            case .stop: break
            }
            state.snapshotInFlight = true
            state.snapshotTakenAt = .now
            // Taken now, the failed ones too: a store that cannot take one is not asked at every commit.
            state.snapshotAt = state.position.sequence
            let header = ProjectionSnapshot.Header(epoch: keys.epoch, sequence: state.position.sequence, link: state.position.hash,
                                                   takenAt: Int64(Date().timeIntervalSince1970 * 1000))
            return (ProjectionSnapshot(header: header, data: state.plane.projection, openedByRotation: state.openedByRotation), keys.snapshot)
        }
    }

    /// Seals and stores a snapshot (on the snapshot queue: a blocking write of its own).
    private static func store(_ snapshot: ProjectionSnapshot, key: SymmetricKey, core: Core) {
        do {
            try core.log.storeSnapshot(try snapshot.sealed(with: key), sequence: snapshot.header.sequence)
        } catch {
            FileHandle.standardError.write(Data(
                "spike nexus: the snapshot of record \(snapshot.header.sequence) was not stored (the next start folds more of the log): \(error)\n".utf8))
        }
        core.state.withLock { $0.snapshotInFlight = false }
    }

    /// What a write becomes when its append failed: nothing of it was written.
    private static func failedWrite(_ error: any Error) -> DataOutcome {
        let failure = error as? LogError
        return failure?.isOutOfSpace == true ? .storageFull("\(error)") : failure?.isStoreUnavailable == true ? .storeUnavailable("\(error)") : .failed("\(error)")
    }

    // MARK: - Following the log

    /// The follower's request: folds through at least `head` unless the position is there
    /// already (the store's own commits wake the follower too). False if the fold failed.
    private static func follow(through head: UInt64, core: Core) -> Bool {
        guard core.state.withLock({ $0.position.sequence }) < head else { return true }
        return catchUp(core: core) == nil
    }

    /// A record decoded on the reader's workers for the first unlock's fold.
    private struct DecodedRecord: Sendable {
        var sequence: UInt64
        var epoch: UInt32
        var authenticator: EventAuthenticator?
        var event: DomainEvent
    }

    /// An event as read for the fold.
    private struct Read {
        var sequence: UInt64
        var epoch: UInt32
        var authenticator: EventAuthenticator?
        var event: DomainEvent
    }

    /// Folds every record after the position through the committed head: data events into the
    /// plane (their authenticators checked now when the data is unlocked, else kept for the
    /// unlock), version keys as the key table holds them, everything else kept for the lifecycle.
    /// A record that does not fold (damaged, unknown, forged) stops the data being served:
    /// nothing after it is folded, and the lifecycle hears of it. Returns why nothing could be
    /// folded, or nil.
    private static func catchUp(core: Core) -> (any Error)? {
        core.folding.withLock { _ in
            // A put's key missing when read was shredded by a later record, committed by then: the
            // next fold takes that record (so that no live version is left without its key).
            for _ in 0..<3 {
                switch foldOnce(core: core) {
                case .success(let keysMissing): if !keysMissing { return nil }
                case .failure(let error): return error
                }
            }
            return nil
        }
    }

    /// One fold through the head; whether a put's key was missing from the key table.
    private static func foldOnce(core: Core) -> Result<Bool, any Error> {
        let position = core.state.withLock { $0.position }
        var read: [Read] = []
        let head: ChainHead
        var receivedKeys: [[UInt8]: [UInt8]] = [:]
        var table: [[UInt8]: [UInt8]]?
        do {
            head = try core.log.replay(after: position, keyring: core.keyring) { view in
                guard let event = try DomainEvent.toFold(view) else { return }
                read.append(Read(sequence: view.sequence, epoch: view.header.epoch, authenticator: view.authenticator(), event: event))
            }
            // The keys the folded puts wrote, and the links of rotations, read after the records:
            // each was written in its event's transaction.
            let ids = read.compactMap { ($0.event.payload as? SecretPut).map { Array($0.keyID) } ?? ($0.event.payload as? RootKeyRotated).map { Array($0.link) } }
            receivedKeys = try core.log.keyTable(ids: ids)
            if read.contains(where: { $0.event.payload is RootKeyRotated }) { table = try core.log.keyTable() }
        } catch let error as ReplayError {
            return .failure(refuse(error.description, core: core))
        } catch LogError.corruptRecord(let sequence, let reason) {
            return .failure(refuse(LogError.corruptRecord(sequence: sequence, reason: reason).description, core: core))
        } catch {
            // The store away: nothing folded; the next fold tries again.
            return .failure(error)
        }
        let outcome = core.state.withLock { state -> Result<Bool, ReplayError> in
            // Checked first, on the small parts of the state: nothing is folded from a batch
            // holding a record that does not authenticate.
            var (keys, unverified, opened) = (state.keys, state.unverified, state.openedByRotation)
            // Data not folded yet: the first unlock folds it through the position, these records too.
            let pending = state.dataPending
            if pending && !read.isEmpty { state.foldedOthersWhilePending = true }
            do throws(ReplayError) {
                for entry in read where !pending {
                    try unverified.admit(entry.event.kind, sequence: entry.sequence, epoch: entry.epoch,
                                         authenticator: entry.authenticator, openedByRotation: opened)
                    switch entry.event.payload {
                    case let rotated as RootKeyRotated:
                        // The data moves to the rotation's keys when the lifecycle has them (`unlock`).
                        keys = nil
                        opened = rotated.epoch
                    case is EpochStarted, is SystemReset:
                        // A new epoch, or a closed one, starts the data over.
                        keys = nil
                        opened = nil
                        unverified = UnverifiedEvents()
                    default:
                        break
                    }
                }
                if let keys {
                    try unverified.authenticate(eventKey: keys.eventAuthentication, epoch: keys.epoch)
                    unverified = UnverifiedEvents()
                }
            } catch {
                return .failure(error)
            }
            // Folded in place (the plane is large; a copy of it per fold would cost).
            let before = (state.logged.count, state.keys != nil)
            for entry in read {
                if !pending { state.plane.fold(entry.event, keys: receivedKeys) }
                guard !EventVocabulary.dataPlaneKinds.contains(entry.event.kind.number) else { continue }
                var link: [UInt8]?
                if let rotated = entry.event.payload as? RootKeyRotated {
                    if !pending { state.plane.reloadVersionKeys(table ?? [:]) }
                    link = receivedKeys[Array(rotated.link)]
                }
                state.logged.append(LoggedEvent(sequence: entry.sequence, event: entry.event, rotationLink: link))
                if NexusLifecycle.decisionKinds.contains(entry.event.kind.number) { state.lastForeignDecision = entry.sequence }
            }
            (state.keys, state.unverified, state.openedByRotation) = (keys, unverified, opened)
            state.position = head
            state.followed = max(state.followed, head.sequence)
            if state.position.sequence >= state.followed { state.behindSince = nil }
            return .success(state.logged.count > before.0 || before.1 && keys == nil)
        }
        switch outcome {
        case .success(let logged):
            if logged { core.onLogged() }
            let missing = read.contains { ($0.event.payload as? SecretPut).map { receivedKeys[Array($0.keyID)] == nil } ?? false }
            return .success(missing && !read.contains { $0.event.payload is RootKeyRotated })
        case .failure(let error):
            return .failure(refuse(error.description, core: core))
        }
    }

    /// A record another writer appended does not fold: nothing is served from now on.
    private static func refuse(_ reason: String, core: Core) -> any Error {
        FileHandle.standardError.write(Data("spike nexus: refusing to serve: \(reason)\n".utf8))
        core.state.withLock { state in
            state.keys = nil
            state.refusal = reason
        }
        core.onLogged()
        return LogError.corruptRecord(sequence: core.state.withLock { $0.position.sequence } + 1, reason: reason)
    }
}
