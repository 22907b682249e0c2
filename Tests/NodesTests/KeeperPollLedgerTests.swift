import Nodes
import Projections
import Testing

/// Coalescing of poll outcomes: changes written at once, repeats summarized once a minute, and
/// every poll counted.
@Suite struct KeeperPollLedgerTests {
    @Test func changesAreWrittenAtOnceAndRepeatsSummarized() {
        var ledger = KeeperPollLedger(summaryIntervalMillis: 60_000)
        #expect(ledger.record(keeper: 1, outcome: .hasShard, latencyMillis: 3, detail: nil, now: 0).map(\.count) == [1])
        for second in 1...30 {
            #expect(ledger.record(keeper: 1, outcome: .hasShard, latencyMillis: 4, detail: nil, now: Int64(second) * 1000).isEmpty)
        }
        #expect(ledger.due(now: 59_999).isEmpty)
        let summary = ledger.due(now: 60_000)
        #expect(summary.count == 1 && summary[0].count == 30 && summary[0].firstAt == 1000 && summary[0].lastAt == 30_000)
        _ = ledger.record(keeper: 1, outcome: .hasShard, latencyMillis: 4, detail: nil, now: 61_000)
        let change = ledger.record(keeper: 1, outcome: .empty, latencyMillis: 2, detail: nil, now: 62_000)
        #expect(change.map(\.outcome) == [.hasShard, .empty] && change.map(\.count) == [1, 1])
        #expect(ledger.pending == 0 && ledger.recorded == 33)
    }
}
