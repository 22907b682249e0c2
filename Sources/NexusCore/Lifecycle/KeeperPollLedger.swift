import Projections

/// Coalesces Keeper poll outcomes into `KeeperPolled` events (DESIGN §5): a change of outcome is
/// written at once, an unchanged outcome is counted and summarized at least every
/// `summaryInterval`, so that the counts in the log add up to every poll while the log grows
/// by a few events a minute. A value type with no I/O: it returns the events to append. Event
/// times come from the wall clock, intervals from the monotonic one (`NexusTime`).
public struct KeeperPollLedger: Sendable {
    /// The current run of equal outcomes of one Keeper.
    public struct Run: Equatable, Sendable {
        public var outcome: KeeperPollOutcome
        public var lastAt: Int64
        public var detail: String?
        /// Polls of this run not yet in an event, and their span and slowest answer.
        var pending = 0
        var pendingFirstAt: Int64 = 0
        var pendingMaxLatency: Int64 = 0
        /// When this run last went into an event, on the monotonic clock.
        var lastWrittenAt: Int64
    }

    public let summaryInterval: Int64
    public private(set) var runs: [Int: Run] = [:]
    /// Polls recorded, written or not.
    public private(set) var recorded = 0

    public init(summaryIntervalMillis: Int64 = 60_000) {
        summaryInterval = summaryIntervalMillis
    }

    /// Polls recorded but not yet in an event.
    public var pending: Int { runs.values.reduce(0) { $0 + $1.pending } }

    /// Records one poll; returns the events to append now.
    public mutating func record(keeper: Int, outcome: KeeperPollOutcome, latencyMillis: Int64, detail: String?, at time: NexusTime) -> [KeeperPolled] {
        recorded += 1
        if var run = runs[keeper], run.outcome == outcome {
            if run.pending == 0 { run.pendingFirstAt = time.wall }
            run.pending += 1
            run.pendingMaxLatency = max(run.pendingMaxLatency, latencyMillis)
            run.lastAt = time.wall
            runs[keeper] = run
            return time.monotonic - run.lastWrittenAt >= summaryInterval ? [summarize(keeper, at: time)].compactMap { $0 } : []
        }
        var events: [KeeperPolled] = []
        if let summary = summarize(keeper, at: time) { events.append(summary) }
        runs[keeper] = Run(outcome: outcome, lastAt: time.wall, detail: detail, lastWrittenAt: time.monotonic)
        events.append(KeeperPolled(keeper: keeper, outcome: outcome, count: 1, firstAt: time.wall, lastAt: time.wall,
                                   maxLatencyMillis: latencyMillis, detail: detail))
        return events
    }

    /// Summaries that are due: runs with pending polls whose last event is `summaryInterval` old.
    public mutating func due(at time: NexusTime) -> [KeeperPolled] {
        runs.keys.sorted().compactMap { keeper in
            guard let run = runs[keeper], run.pending > 0, time.monotonic - run.lastWrittenAt >= summaryInterval else { return nil }
            return summarize(keeper, at: time)
        }
    }

    /// The monotonic time at which the next summary is due, if any poll is pending.
    public var nextSummaryAt: Int64? {
        runs.values.filter { $0.pending > 0 }.map { $0.lastWrittenAt + summaryInterval }.min()
    }

    /// Every pending poll, as events (at a clean stop).
    public mutating func flush(at time: NexusTime) -> [KeeperPolled] {
        runs.keys.sorted().compactMap { summarize($0, at: time) }
    }

    private mutating func summarize(_ keeper: Int, at time: NexusTime) -> KeeperPolled? {
        guard var run = runs[keeper], run.pending > 0 else { return nil }
        let event = KeeperPolled(keeper: keeper, outcome: run.outcome, count: run.pending, firstAt: run.pendingFirstAt,
                                 lastAt: run.lastAt, maxLatencyMillis: run.pendingMaxLatency, detail: run.detail)
        run.pending = 0
        run.pendingMaxLatency = 0
        run.lastWrittenAt = time.monotonic
        runs[keeper] = run
        return event
    }
}
