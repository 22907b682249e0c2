import CoreMetrics
import Projections
import Prometheus
import Synchronization

/// The Nexus' metrics: recorded through swift-metrics into a Prometheus registry of this
/// Nexus' own (several Nexus in one process, as in the tests, do not mix), and rendered for
/// `/metrics` in Prometheus' text format.
///
/// Counters count what this process saw: Keeper polls by outcome, rehydrations, refused
/// requests, events appended. Gauges are read from the node when scraped: readiness, shares in
/// hand, secrets and policies held, the log's head and size.
public final class NexusMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let polls: [PollKey: CoreMetrics.Counter]
    private let rehydrations: [Int: CoreMetrics.Counter]
    private let accessDenied: CoreMetrics.Counter
    private let eventsWritten: CoreMetrics.Counter
    private let eventsCounted = Mutex(0)
    private let ready: Meter
    private let sharesInHand: Meter
    private let secrets: Meter
    private let policies: Meter
    private let logHead: Meter
    private let logBytes: Meter

    struct PollKey: Hashable {
        var keeper: Int
        var outcome: KeeperPollOutcome
    }

    /// What the gauges show, read from the node at each scrape.
    struct Sample {
        var ready: Bool
        var sharesInHand: Int
        var secrets: Int
        var policies: Int
        var logHead: UInt64
        var logBytes: Int
        /// Events this process appended, as the log counts them.
        var eventsWritten: Int
    }

    init(keepers: Int) {
        let factory = PrometheusMetricsFactory(registry: registry)
        let indices = 1...max(1, keepers)
        var polls: [PollKey: CoreMetrics.Counter] = [:]
        for keeper in indices {
            for outcome in KeeperPollOutcome.allCases {
                polls[PollKey(keeper: keeper, outcome: outcome)] = CoreMetrics.Counter(
                    label: "spike_keeper_polls_total", dimensions: [("keeper", String(keeper)), ("outcome", outcome.rawValue)], factory: factory)
            }
        }
        self.polls = polls
        rehydrations = Dictionary(uniqueKeysWithValues: indices.map {
            ($0, CoreMetrics.Counter(label: "spike_keeper_rehydrations_total", dimensions: [("keeper", String($0))], factory: factory))
        })
        accessDenied = CoreMetrics.Counter(label: "spike_access_denied_total", factory: factory)
        eventsWritten = CoreMetrics.Counter(label: "spike_log_events_written_total", factory: factory)
        ready = Meter(label: "spike_nexus_ready", factory: factory)
        sharesInHand = Meter(label: "spike_nexus_shares_in_hand", factory: factory)
        secrets = Meter(label: "spike_secrets", factory: factory)
        policies = Meter(label: "spike_policies", factory: factory)
        logHead = Meter(label: "spike_log_head_sequence", factory: factory)
        logBytes = Meter(label: "spike_log_file_bytes", factory: factory)
    }

    func pollCompleted(keeper: Int, outcome: KeeperPollOutcome) {
        polls[PollKey(keeper: keeper, outcome: outcome)]?.increment()
    }

    func rehydrated(keeper: Int) {
        rehydrations[keeper]?.increment()
    }

    func refused() {
        accessDenied.increment()
    }

    /// The text exposition, with the gauges set from `sample` first.
    func exposition(_ sample: Sample) -> String {
        ready.set(sample.ready ? 1 : 0)
        sharesInHand.set(sample.sharesInHand)
        secrets.set(sample.secrets)
        policies.set(sample.policies)
        logHead.set(Int(clamping: sample.logHead))
        logBytes.set(sample.logBytes)
        // The log counts its appends; the counter follows it.
        let delta = eventsCounted.withLock { counted in
            defer { counted = max(counted, sample.eventsWritten) }
            return max(0, sample.eventsWritten - counted)
        }
        if delta > 0 { eventsWritten.increment(by: delta) }
        return registry.emitToString()
    }
}
