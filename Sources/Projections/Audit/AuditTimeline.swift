/// The fold behind `spike log audit`: every event, in log order, into an `AuditReport`, then
/// the findings. Pure (no clock, no I/O): the tool feeds it what it reads, a test feeds it a
/// scripted story.
public struct AuditTimeline: Sendable {
    private var report: AuditReport
    /// The process each replica runs now (index into `report.runs`), and the time of the last event.
    private var openRuns: [String: Int] = [:]
    private var replicaStates: [String: (running: Bool, since: Timestamp)] = [:]
    private var replicaPeriods: [String: [AuditReport.Period]] = [:]
    private var replicaOrder: [String] = []
    /// The time of the last event each running process wrote of its own accord (its instance
    /// is the trail of what the Nexus decides by itself): where a replica's crash is placed
    /// while another replica went on writing.
    private var lastOwnEvent: [String: Timestamp] = [:]
    private var lastTime: Timestamp?
    private var initialized = false
    private var nexusState: (state: String, since: Timestamp)?
    private var openSealed: Int?
    private var lanes: [Int: AuditReport.KeeperLane] = [:]
    private var denials: [String: AuditReport.Denials] = [:]
    private var openRotation: Int?

    /// Polls of one outcome this close together are one stretch (the Nexus summarizes an
    /// unchanged outcome at least once a minute).
    static let pollGap: Int64 = 90_000_000_000

    public init(logID: String, head: UInt64) {
        report = AuditReport(logID: logID, head: head, events: 0)
    }

    /// Whether the report reads events of this kind; the others (the data events) need not be
    /// decoded: `apply` counts them with no body.
    public static func reads(kind: UInt16) -> Bool { !dataKinds.contains(kind) }

    private static let dataKinds = EventVocabulary.dataPlaneKinds.subtracting([AccessDenied.kind.number])

    /// Folds one event (nil: an event the report only counts, or a kind this build does not
    /// know): `time` and `epoch` are its record header's.
    public mutating func apply(_ event: DomainEvent?, sequence: UInt64, time: Int64, epoch: UInt32) {
        let at = Timestamp(nanoseconds: time)
        report.events += 1
        if report.first == nil { report.first = at }
        report.last = at
        defer { lastTime = at }
        guard let event else { return }
        if lastOwnEvent[event.trail] != nil { lastOwnEvent[event.trail] = at }
        switch event.payload {
        case let started as EpochStarted:
            closeEpoch(at: at, by: "init")
            report.epochs.append(.init(epoch: started.epoch, sequence: sequence, startedAt: at, openedBy: "init",
                                       keepers: started.keepers, threshold: started.threshold))
            initialized = true
            if !openRuns.isEmpty { enter("ready", at: at) }
        case let started as NexusStarted:
            let lane = started.lane
            // A start with no stop before it, of the same replica (or of a log's nameless one):
            // that process crashed after its last event.
            for crashed in [lane, ""] {
                guard let open = openRuns.removeValue(forKey: crashed) else { continue }
                // With another replica running, the log's last event may be that one's.
                let end = openRuns.isEmpty ? lastTime ?? at : lastOwnEvent[report.runs[open].instance] ?? report.runs[open].startedAt
                lastOwnEvent[report.runs[open].instance] = nil
                report.runs[open].end = .crashed
                report.runs[open].endedAt = end
                replica(crashed, running: false, at: end)
                if openRuns.isEmpty { enter("down", at: end) }
            }
            // Another replica running goes on as it was: the system's lane changes only when none runs.
            if openRuns.isEmpty {
                if initialized {
                    enter("sealed", at: at)
                    if openSealed == nil {
                        report.sealedPeriods.append(.init(from: at))
                        openSealed = report.sealedPeriods.count - 1
                    }
                } else {
                    enter("uninitialized", at: at)
                }
            }
            report.runs.append(.init(instance: started.instance, replica: started.replica, sequence: sequence, startedAt: at, end: .running))
            lastOwnEvent[started.instance] = at
            openRuns[lane] = report.runs.count - 1
            replica(lane, running: true, at: at)
        case let stopped as NexusStopped:
            if let (lane, open) = openRuns.first(where: { report.runs[$0.value].instance == stopped.instance }) {
                report.runs[open].end = .stopped
                report.runs[open].endedAt = at
                report.runs[open].reason = stopped.reason
                openRuns[lane] = nil
                lastOwnEvent[stopped.instance] = nil
                replica(lane, running: false, at: at)
            }
            if openRuns.isEmpty { enter("down", at: at) }
        case let restored as RootKeyRestored:
            report.restores.append(.init(at: at, sequence: sequence, source: restored.source.rawValue, succeeded: true,
                                         admin: restored.admin, shareIndices: restored.shareIndices))
            endSealed(at: at, by: restored.source.rawValue, admin: restored.admin)
            if !openRuns.isEmpty { enter("ready", at: at) }
        case let failed as RootKeyRestoreFailed:
            report.restores.append(.init(at: at, sequence: sequence, source: failed.source.rawValue, succeeded: false,
                                         shareIndices: failed.shareIndices, reason: failed.reason))
        case let reset as SystemReset:
            report.resets.append(.init(at: at, sequence: sequence, epoch: reset.epoch, reason: reset.reason, actor: event.actor))
            closeEpoch(at: at, by: "reset")
            endSealed(at: at, by: "reset", admin: nil)
            initialized = false
            if !openRuns.isEmpty { enter("uninitialized", at: at) }
        case let added as AdminPasswordAdded:
            report.adminChanges.append(.init(at: at, sequence: sequence, change: "added", admin: added.wrap.admin, actor: event.actor))
        case let changed as AdminPasswordChanged:
            report.adminChanges.append(.init(at: at, sequence: sequence, change: "changed", admin: changed.wrap.admin, actor: event.actor))
        case let removed as AdminPasswordRemoved:
            report.adminChanges.append(.init(at: at, sequence: sequence, change: "removed", admin: removed.admin, actor: event.actor))
        case let detected as RollbackDetected:
            report.headIncidents.append(.init(at: at, sequence: sequence, kind: detected.finding.rawValue, logSequence: detected.logSequence,
                                              witnessedSequence: detected.witnessedSequence, keeper: detected.keeper, actor: event.actor))
        case let accepted as LogHeadAccepted:
            report.headIncidents.append(.init(at: at, sequence: sequence, kind: "accepted", logSequence: accepted.logSequence,
                                              witnessedSequence: accepted.witnessedSequence, actor: accepted.acceptedBy))
        case let exported as RecoveryShardsExported:
            report.shardExports.append(.init(at: at, sequence: sequence, shareIndices: exported.shareIndices, actor: event.actor))
        case let rotated as RootKeyRotated:
            closeEpoch(at: at, by: "rotation")
            report.epochs.append(.init(epoch: rotated.epoch, sequence: sequence, startedAt: at, openedBy: "rotation",
                                       keepers: rotated.next.keepers, threshold: rotated.next.threshold))
            report.rotations.append(.init(at: at, sequence: sequence, fromEpoch: rotated.fromEpoch, toEpoch: rotated.epoch, actor: event.actor))
            openRotation = report.rotations.count - 1
        case is RootKeyRotationCompleted:
            if let open = openRotation { report.rotations[open].completedAt = at }
            openRotation = nil
        case let polled as KeeperPolled:
            let from = Timestamp(milliseconds: polled.firstAt), to = Timestamp(milliseconds: polled.lastAt)
            let state = polled.outcome.rawValue
            withLane(polled.keeper) { lane in
                if let last = lane.periods.last, last.state == state, from.nanoseconds - last.to.nanoseconds <= Self.pollGap {
                    lane.periods[lane.periods.count - 1].to = max(last.to, to)
                    lane.periods[lane.periods.count - 1].polls = (last.polls ?? 0) + polled.count
                } else {
                    lane.periods.append(.init(state: state, from: from, to: to, polls: polled.count))
                }
                lane.polls[state, default: 0] += polled.count
            }
        case let rehydrated as KeeperRehydrated:
            withLane(rehydrated.keeper) { $0.rehydrations.append(.init(at: at, sequence: sequence, reason: rehydrated.reason.rawValue)) }
        case let distributed as ShardDistributed:
            withLane(distributed.keeper) { $0.url = distributed.keeperURL }
        case let denied as AccessDenied:
            let request = denied.operation + " " + denied.path
            let first = denied.firstAt.map { Timestamp(milliseconds: $0) } ?? at
            if denials[event.actor] != nil {
                // Mutated in place: a copy out of the dictionary would copy its requests each time.
                denials[event.actor]!.count += denied.refusals
                denials[event.actor]!.last = at
                denials[event.actor]!.requests[request, default: 0] += denied.refusals
            } else {
                denials[event.actor] = .init(actor: event.actor, count: denied.refusals, first: first, last: at, requests: [request: denied.refusals])
            }
        default:
            break
        }
    }

    /// The report, with the lanes closed at the last event and the findings written.
    public func finished() -> AuditReport {
        var report = self.report
        if let state = nexusState, let last = report.last {
            report.nexus.append(.init(state: state.state, from: state.since, to: max(last, state.since)))
        }
        report.replicas = replicaOrder.map { lane in
            var periods = replicaPeriods[lane] ?? []
            if let state = replicaStates[lane], let last = report.last {
                periods.append(.init(state: state.running ? "running" : "down", from: state.since, to: max(last, state.since)))
            }
            return AuditReport.ReplicaLane(replica: lane, periods: periods)
        }
        report.keepers = lanes.keys.sorted().map { lanes[$0]! }
        report.denials = denials.values.sorted { ($0.count, $1.actor) > ($1.count, $0.actor) }
        report.findings = AuditFindings.write(report)
        return report
    }

    /// Changes a Keeper's lane in place (taken out of the dictionary, so that its arrays are not
    /// copied on every poll event), made on first sight with the URL the genesis names.
    private mutating func withLane(_ keeper: Int, _ change: (inout AuditReport.KeeperLane) -> Void) {
        var lane = lanes.removeValue(forKey: keeper) ?? AuditReport.KeeperLane(
            keeper: keeper, url: report.epochs.last.flatMap { keeper >= 1 && keeper <= $0.keepers.count ? $0.keepers[keeper - 1] : nil })
        change(&lane)
        lanes[keeper] = lane
    }

    /// A replica's lane: running from a start, down from a stop or a crash.
    private mutating func replica(_ lane: String, running: Bool, at: Timestamp) {
        if let current = replicaStates[lane] {
            if current.running == running { return }
            if at > current.since {
                replicaPeriods[lane, default: []].append(.init(state: current.running ? "running" : "down", from: current.since, to: at))
            }
        } else {
            replicaOrder.append(lane)
        }
        replicaStates[lane] = (running, at)
    }

    private mutating func enter(_ state: String, at: Timestamp) {
        if let current = nexusState {
            if current.state == state { return }
            if at > current.since { report.nexus.append(.init(state: current.state, from: current.since, to: at)) }
        }
        nexusState = (state, at)
    }

    private mutating func endSealed(at: Timestamp, by: String, admin: String?) {
        guard let open = openSealed else { return }
        report.sealedPeriods[open].to = at
        report.sealedPeriods[open].endedBy = by
        report.sealedPeriods[open].admin = admin
        openSealed = nil
    }

    /// Closes the current epoch, if one is open (a genesis after a reset finds it closed).
    private mutating func closeEpoch(at: Timestamp, by: String) {
        guard let last = report.epochs.indices.last, report.epochs[last].endedAt == nil else { return }
        report.epochs[last].endedAt = at
        report.epochs[last].endedBy = by
    }
}
