import Crypto
import Foundation
import PostgresEventStore
import Testing
@testable import EventLog

/// What every `EventStore` promises, run against the embedded LMDB log and against PostgreSQL
/// with the same cases: the records, chain, head and key table behave the same whichever keeps
/// them.
@Suite struct StoreContractTests {
    @Test(arguments: StoreKind.allCases)
    func appendedEventsReadBackInOrderAfterAReopen(_ kind: StoreKind) async throws {
        let t = try TestStore(kind)
        let first = try await t.store.append([NewEvent(kind: 7, body: body("one")), NewEvent(kind: 8, body: body("two"))])
        #expect(first == 2...3)  // record 1 is the segment record
        try await t.store.append(kind: 9, body: body("three"))
        let head = try #require(try t.store.head())
        #expect(head.sequence == 4)
        #expect(try t.store.link(at: 4) == head.hash)
        #expect(try t.store.link(at: 5) == nil)
        try t.reopen()
        #expect(try t.store.head() == head)
        #expect(try texts(t.store, keyring: t.keyring) == ["one", "two", "three"])
        var kinds: [UInt16] = []
        _ = try t.store.replay(from: 3, through: 4, keyring: t.keyring) { kinds.append($0.kind) }
        #expect(kinds == [8, 9])
        // The reopened writer starts a new segment and carries on from the head.
        #expect(try await t.store.append(kind: 1, body: body("four")) == 6)
        let report = t.store.verify(keyring: t.keyring)
        #expect(report.isIntact && report.records == 6 && report.segments == 2 && report.eventsOpened == 4, "\(report)")
    }

    /// Snapshots are kept beside the log, the newest alone, and never touch the records: the log
    /// reads and verifies the same with them stored or dropped.
    @Test(arguments: StoreKind.allCases)
    func aSnapshotIsKeptBesideTheLogAndReplacesTheOlderOne(_ kind: StoreKind) async throws {
        let t = try TestStore(kind)
        #expect(try t.store.latestSnapshot() == nil)
        try await t.store.append([NewEvent(kind: 7, body: body("one")), NewEvent(kind: 8, body: body("two"))])
        try t.store.storeSnapshot([1, 2, 3], sequence: 2)
        try t.store.storeSnapshot([4, 5, 6, 7], sequence: 3)
        try t.reopen()
        #expect(try t.store.latestSnapshot() == StoredSnapshot(sequence: 3, bytes: [4, 5, 6, 7]))
        // An older one stored late (a slower replica's) does not replace the newer.
        try t.store.storeSnapshot([9], sequence: 2)
        #expect(try t.store.latestSnapshot()?.sequence == 3)
        try t.store.deleteSnapshots()
        #expect(try t.store.latestSnapshot() == nil)
        #expect(try texts(t.store, keyring: t.keyring) == ["one", "two"])
        #expect(t.store.verify(keyring: t.keyring).isIntact)
    }

    /// Many concurrent appenders: group commit, sequences unique and contiguous, the chain whole.
    @Test(arguments: StoreKind.allCases)
    func concurrentAppendsLeaveNoGapAndNoDuplicate(_ kind: StoreKind) async throws {
        let t = try TestStore(kind)
        let store = t.store
        let ranges = try await withThrowingTaskGroup(of: [ClosedRange<UInt64>].self) { group in
            for writer in 0..<16 {
                group.addTask {
                    var mine: [ClosedRange<UInt64>] = []
                    for index in 0..<25 {
                        mine.append(try await store.append([NewEvent(kind: 1, body: body("\(writer)/\(index)"))]))
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let sequences = ranges.flatMap { Array($0) }.sorted()
        #expect(sequences.count == 400 && Set(sequences).count == 400)
        #expect(sequences.first == 2 && sequences.last == 401)
        #expect(store.statistics.transactions < 400, "group commit: \(store.statistics)")
        let report = store.verify(keyring: t.keyring)
        #expect(report.isIntact && report.eventsOpened == 400, "\(report)")
    }

    /// The key table changes in the transaction of the event that explains them; a refused
    /// append changes nothing.
    @Test(arguments: StoreKind.allCases)
    func keyTableChangesRideWithTheirAppend(_ kind: StoreKind) async throws {
        let t = try TestStore(kind)
        let id = Array("v-one".utf8)
        let head = try await t.store.append([NewEvent(kind: 1, body: body("written"))],
                                            keyChanges: KeyTableChanges(puts: [KeyTableEntry(id: id, value: [1, 2, 3])])).upperBound
        #expect(try t.store.keyTable() == [id: [1, 2, 3]])
        await #expect(throws: LogError.headMoved(expected: head - 1, found: head)) {
            try await t.store.append([NewEvent(kind: 1, body: body("stale destroy"))],
                                     keyChanges: KeyTableChanges(deletes: [id]), expectedHead: head - 1)
        }
        #expect(try t.store.keyTable() == [id: [1, 2, 3]])
        _ = try await t.store.append([NewEvent(kind: 1, body: body("destroyed"))], keyChanges: KeyTableChanges(deletes: [id]), expectedHead: head)
        #expect(try t.store.keyTable().isEmpty)
        try t.reopen()
        #expect(try t.store.keyTable().isEmpty)
        #expect(try texts(t.store, keyring: t.keyring) == ["written", "destroyed"])
    }

    @Test(arguments: StoreKind.allCases)
    func aTailDeliversWhatIsAppendedAfterIt(_ kind: StoreKind) async throws {
        let t = try TestStore(kind)
        try await t.store.append(kind: 1, body: body("before"))
        var iterator = t.store.tail(from: 1, keyring: t.keyring).makeAsyncIterator()
        #expect(try await iterator.next().map { String(decoding: $0.body, as: UTF8.self) } == "before")
        try await t.store.append(kind: 1, body: body("after"))
        #expect(try await iterator.next().map { String(decoding: $0.body, as: UTF8.self) } == "after")
    }

    /// One flipped bit in a stored body: verification names the record, a replay refuses it.
    @Test(arguments: StoreKind.allCases)
    func anAlteredRecordIsFoundByVerifyAndRefusedByReplay(_ kind: StoreKind) async throws {
        let t = try TestStore(kind)
        for index in 0..<5 { try await t.store.append(kind: 1, body: body("event \(index)")) }
        t.store.close()
        try t.flipByte(ofRecord: 4, at: RecordHeader.size + 14)
        let store = try t.open(readOnly: true)
        let report = store.verify(keyring: t.keyring)
        #expect(!report.isIntact)
        #expect(report.problems.map(\.sequence).contains(3) || report.problems.map(\.sequence).contains(4), "\(report)")
        #expect(report.problems.contains { $0.kind == .alteredRecord }, "\(report)")
        #expect(throws: LogError.self) { try texts(store, keyring: t.keyring) }
    }

    /// Records missing from the end while the head still names them: a writable open refuses
    /// (nothing is truncated to fit), verify reports the missing records.
    @Test(arguments: StoreKind.allCases)
    func aTruncatedLogIsRefusedForWritingAndReportedByVerify(_ kind: StoreKind) async throws {
        let t = try TestStore(kind)
        for index in 0..<6 { try await t.store.append(kind: 1, body: body("event \(index)")) }
        try t.truncate(from: 6)
        #expect(throws: LogError.damagedTail(sequence: 5, reason: "the last record is 5 but the committed head is 7")) {
            _ = try t.open()
        }
        let report = try t.open(readOnly: true).verify(keyring: t.keyring)
        #expect(report.problems.first?.kind == .missingRecord && report.problems.first?.sequence == 6, "\(report)")
    }

    @Test(arguments: StoreKind.allCases)
    func aBodyOverTheLimitIsRefusedAndNothingIsWritten(_ kind: StoreKind) async throws {
        let t = try TestStore(kind)
        try await t.store.append(kind: 1, body: body("fits"))
        let huge = [UInt8](repeating: 7, count: (16 << 20) + 1)
        await #expect(throws: LogError.eventTooLarge(size: huge.count, limit: 16 << 20)) {
            try await t.store.append(kind: 1, body: huge)
        }
        #expect(try t.store.head()?.sequence == 2)
    }
}
