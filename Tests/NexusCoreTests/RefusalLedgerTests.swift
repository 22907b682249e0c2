import NexusCore
import Projections
import Testing

/// Refusals are all accounted for, and a flood of them costs an event per window, not per request.
@Suite struct RefusalLedgerTests {
    static let key = RefusalLedger.Key(actor: "spiffe://spike.ist/workload/x", operation: "secret.get", path: "apps/db", wants: ["read"])

    @Test func theFirstIsWrittenAtOnceAndRepeatsAreOneSummaryPerWindow() {
        var ledger = RefusalLedger(windowMillis: 1000)
        let first = ledger.refused(Self.key, trail: "t1", at: 10)
        #expect(first.count == 1 && first[0].denied.count == nil && first[0].denied.at == 10 && first[0].trail == "t1")
        for time in 11...510 { #expect(ledger.refused(Self.key, trail: "t\(time)", at: Int64(time)).isEmpty) }
        #expect(ledger.pending == 500 && ledger.due(at: 1009).isEmpty)
        let summary = ledger.due(at: 1010)
        #expect(summary.count == 1 && summary[0].denied.count == 500 && summary[0].denied.firstAt == 11 && summary[0].denied.at == 510)
        #expect(summary[0].denied.refusals == 500 && summary[0].trail == "t510" && ledger.pending == 0)
        // The window closed: the next one is written at once again.
        #expect(ledger.refused(Self.key, trail: "t", at: 2000).count == 1)
        // A window with no repeat ends with nothing to write.
        #expect(ledger.due(at: 3000).isEmpty)
    }

    @Test func differentPathsAreSeparateUntilAnIdentityHasTooManyThenShareOne() {
        var ledger = RefusalLedger(windowMillis: 1000, maxPathsPerActor: 3)
        var written = 0
        for index in 0..<100 {
            var key = Self.key
            key.path = "apps/\(index)"
            written += ledger.refused(key, trail: "t", at: Int64(index)).count
        }
        // Three paths of their own, then one window for the rest: 4 events now, 1 summary later.
        #expect(written == 4 && ledger.pending == 96)
        let drained = ledger.drain()
        #expect(drained.count == 1 && drained[0].denied.path == RefusalLedger.variousPaths && drained[0].denied.refusals == 96)
        // Another identity is not held back by the first.
        var other = Self.key
        other.actor = "spiffe://spike.ist/workload/y"
        #expect(ledger.refused(other, trail: "t", at: 200).count == 1)
    }

    @Test func theWindowLimitWritesEverySummaryBeforeOpeningMore() {
        var ledger = RefusalLedger(windowMillis: 1000, maxWindows: 2, maxPathsPerActor: 100)
        var a = Self.key, b = Self.key, c = Self.key
        a.path = "a"; b.path = "b"; c.path = "c"
        _ = ledger.refused(a, trail: "t", at: 1)
        _ = ledger.refused(a, trail: "t", at: 2)
        _ = ledger.refused(b, trail: "t", at: 3)
        let writes = ledger.refused(c, trail: "t", at: 4)
        #expect(writes.map(\.denied.path) == ["a", "c"] && writes[0].denied.count == 1 && ledger.pending == 0)
    }
}
