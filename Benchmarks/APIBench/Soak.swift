import Foundation
import NIOHTTP1
import SpikeClient

/// `scripts/bench soak`'s load: workers on their own keep-alive connections, each writing its own
/// paths (a counter that only grows) and reading back what it wrote, through Nexus SIGKILLs and
/// Keeper restarts made by the script. A write is *acknowledged* when it is answered 200; the
/// ledger keeps the highest acknowledged counter of every path, and `verify` checks after the run
/// that each path holds at least that (a write in flight at a kill may have landed unanswered).
/// Connections that break are made again; 503s while a Nexus starts are waited out. Latency is
/// that of the 200s, reported per phase: `steady` (no faults: the baseline) and `faults`.
enum Soak {
    static let pathsPerWorker = 20

    final class Ledger: @unchecked Sendable {
        private let lock = NSLock()
        private var acknowledged: [String: Int] = [:]
        private(set) var latencies: [String: [Int64]] = ["steady": [], "faults": []]
        private(set) var unavailable = 0
        private(set) var broken = 0
        private(set) var writes = 0
        /// The longest a worker went without an answer of 200 (a kill, and the restart after it).
        private(set) var longestGap = Duration.zero

        func acknowledge(_ path: String, _ counter: Int) {
            lock.withLock {
                acknowledged[path] = max(acknowledged[path] ?? 0, counter)
                writes += 1
            }
        }
        func answered(after gap: Duration) { lock.withLock { longestGap = max(longestGap, gap) } }
        func record(_ phase: String, _ nanoseconds: Int64) { lock.withLock { latencies[phase, default: []].append(nanoseconds) } }
        func refused() { lock.withLock { unavailable += 1 } }
        func connectionBroke() { lock.withLock { broken += 1 } }
        var snapshot: [String: Int] { lock.withLock { acknowledged } }
    }

    static func run(url: String, client: HTTPClient, workers: Int, steady: Duration, faults: Duration, ledgerPath: String) async throws {
        let ledger = Ledger()
        let started = ContinuousClock.now
        let phaseChange = started + steady
        let deadline = phaseChange + faults
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask { await work(worker, url: url, client: client, ledger: ledger, phaseChange: phaseChange, deadline: deadline) }
            }
        }
        let acknowledged = ledger.snapshot
        let data = try JSONSerialization.data(withJSONObject: acknowledged, options: [.sortedKeys])
        try data.write(to: URL(fileURLWithPath: ledgerPath))
        for phase in ["steady", "faults"] {
            let sorted = ledger.latencies[phase, default: []].sorted()
            guard !sorted.isEmpty else { continue }
            let seconds = Double((phase == "steady" ? steady : faults) / .milliseconds(1)) / 1000
            emit("soak_\(phase)_throughput", Double(sorted.count) / seconds, "requests/s")
            emit("soak_\(phase)_p50", Double(sorted[sorted.count / 2]) / 1e6, "ms")
            emit("soak_\(phase)_p99", Double(sorted[sorted.count * 99 / 100]) / 1e6, "ms")
        }
        emit("soak_acknowledged_writes", Double(ledger.writes), "writes")
        emit("soak_longest_wait_for_an_answer", Double(ledger.longestGap / .milliseconds(1)) / 1000, "s")
        emit("soak_refused_while_starting", Double(ledger.unavailable), "requests")
        emit("soak_broken_connections", Double(ledger.broken), "connections")
    }

    private static func work(_ worker: Int, url: String, client: HTTPClient, ledger: Ledger,
                             phaseChange: ContinuousClock.Instant, deadline: ContinuousClock.Instant) async {
        var counter = 0
        var written: [String] = []
        var lastAnswer = ContinuousClock.now
        var random = SystemRandomNumberGenerator()
        while ContinuousClock.now < deadline {
            do {
                try await client.withConnection(url) { session in
                    while ContinuousClock.now < deadline {
                        let write = written.isEmpty || Int.random(in: 0..<5, using: &random) == 0
                        let path: String
                        let route: String
                        let body: [UInt8]
                        if write {
                            counter += 1
                            path = "soak/w\(worker)/\(counter % pathsPerWorker)"
                            route = "/v1/store/secrets"
                            body = Array(#"{"path":"\#(path)","values":{"counter":"\#(counter)","password":"0123456789abcdef0123456789abcdef"}}"#.utf8)
                        } else {
                            path = written[Int.random(in: 0..<written.count, using: &random)]
                            route = "/v1/store/secrets?action=get"
                            body = Array(#"{"path":"\#(path)"}"#.utf8)
                        }
                        let sent = ContinuousClock.now
                        let response = try await session.send(.POST, path: route, body: body, contentType: "application/json")
                        switch response.status {
                        case .ok:
                            let now = ContinuousClock.now
                            ledger.answered(after: now - lastAnswer)
                            lastAnswer = now
                            let elapsed = now - sent
                            ledger.record(sent < phaseChange ? "steady" : "faults",
                                          elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
                            if write {
                                ledger.acknowledge(path, counter)
                                if !written.contains(path) { written.append(path) }
                            }
                        case .serviceUnavailable:
                            ledger.refused()
                            try await Task.sleep(for: .milliseconds(50))
                        default:
                            // Anything else is a failure of the system under test, not a fault.
                            FileHandle.standardError.write(Data("APIBench soak: \(route) answered \(response.status.code): \(String(decoding: response.body, as: UTF8.self))\n".utf8))
                            exit(1)
                        }
                    }
                }
            } catch {
                // The Nexus was killed or is starting: connect again.
                ledger.connectionBroke()
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Reads every path of the ledger: each must hold at least its acknowledged counter.
    static func verify(url: String, client: HTTPClient, ledgerPath: String) async throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: ledgerPath))
        guard let acknowledged = try JSONSerialization.jsonObject(with: data) as? [String: Int] else { throw SoakFailure("the ledger is not a map of counters") }
        var lost = 0
        try await client.withConnection(url) { session in
            for (path, counter) in acknowledged.sorted(by: { $0.key < $1.key }) {
                let response = try await session.send(.POST, path: "/v1/store/secrets?action=get", body: Array(#"{"path":"\#(path)"}"#.utf8),
                                                      contentType: "application/json")
                let stored = (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
                    .flatMap { $0["data"] as? [String: String] }?["counter"].flatMap(Int.init)
                if response.status != .ok || (stored ?? 0) < counter {
                    lost += 1
                    FileHandle.standardError.write(Data("lost: \(path) acknowledged \(counter), holds \(stored.map(String.init) ?? "nothing") (\(response.status.code))\n".utf8))
                }
            }
        }
        emit("soak_paths_checked", Double(acknowledged.count), "paths")
        emit("soak_acknowledged_writes_lost", Double(lost), "paths")
        if lost > 0 { exit(1) }
    }
}

struct SoakFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
