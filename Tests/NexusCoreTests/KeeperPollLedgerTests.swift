import NexusCore
import Projections
import Testing

/// Coalescing of poll outcomes: changes written at once, repeats summarized once a minute, and
/// every poll counted.
@Suite struct KeeperPollLedgerTests {
    /// A reading `ms` milliseconds into the test, with the wall clock `wallOffset` away.
    static func at(_ ms: Int64, wallOffset: Int64 = 1_800_000_000_000) -> NexusTime {
        NexusTime(wall: ms + wallOffset, monotonic: ms)
    }

    @Test func changesAreWrittenAtOnceAndRepeatsSummarized() {
        var ledger = KeeperPollLedger(summaryIntervalMillis: 60_000)
        #expect(ledger.record(keeper: 1, outcome: .hasShard, latencyMillis: 3, detail: nil, at: Self.at(0)).map(\.count) == [1])
        for second in 1...30 {
            #expect(ledger.record(keeper: 1, outcome: .hasShard, latencyMillis: 4, detail: nil, at: Self.at(Int64(second) * 1000)).isEmpty)
        }
        #expect(ledger.due(at: Self.at(59_999)).isEmpty)
        #expect(ledger.nextSummaryAt == 60_000)
        let summary = ledger.due(at: Self.at(60_000))
        #expect(summary.count == 1 && summary[0].count == 30)
        // Event times are the wall clock's.
        #expect(summary[0].firstAt == Self.at(1000).wall && summary[0].lastAt == Self.at(30_000).wall)
        _ = ledger.record(keeper: 1, outcome: .hasShard, latencyMillis: 4, detail: nil, at: Self.at(61_000))
        let change = ledger.record(keeper: 1, outcome: .empty, latencyMillis: 2, detail: nil, at: Self.at(62_000))
        #expect(change.map(\.outcome) == [.hasShard, .empty] && change.map(\.count) == [1, 1])
        #expect(ledger.pending == 0 && ledger.recorded == 33)
    }

    /// The wall clock stepped back an hour after the first poll: the summary is still due a
    /// minute later on the monotonic clock, and its times are what the wall clock said.
    @Test func aWallClockSteppedBackDoesNotHoldASummaryBack() {
        var ledger = KeeperPollLedger(summaryIntervalMillis: 60_000)
        _ = ledger.record(keeper: 1, outcome: .empty, latencyMillis: 1, detail: nil, at: Self.at(0))
        let back: Int64 = 1_800_000_000_000 - 3_600_000
        _ = ledger.record(keeper: 1, outcome: .empty, latencyMillis: 1, detail: nil, at: Self.at(5_000, wallOffset: back))
        let summary = ledger.due(at: Self.at(60_000, wallOffset: back))
        #expect(summary.map(\.count) == [1])
        #expect(summary.first?.lastAt == 5_000 + back)
    }
}
