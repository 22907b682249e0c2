import Crypto
import Foundation
import Testing
@testable import EventLog

/// The optimistic check of `append(expectedHead:)`: what several writers of one store (the
/// PostgreSQL replicas to come) build on.
@Suite struct ExpectedHeadTests {
    @Test func anAppendOnAStaleHeadIsRefusedAndWritesNothing() async throws {
        let t = try TestLog()
        let head = try await t.log.append(kind: 1, body: body("first"))
        let next = try await t.log.append([NewEvent(kind: 1, body: body("on the head"))], keyChanges: KeyTableChanges(), expectedHead: head)
        #expect(next == (head + 1)...(head + 1))
        await #expect(throws: LogError.headMoved(expected: head, found: head + 1)) {
            try await t.log.append([NewEvent(kind: 1, body: body("stale"))], keyChanges: KeyTableChanges(), expectedHead: head)
        }
        #expect(try t.log.head()?.sequence == head + 1)
        #expect(try t.log.reader(keyring: t.keyring).events(in: 1...10).map { String(decoding: $0.body, as: UTF8.self) } == ["first", "on the head"])
    }

    /// Two writers decided on the same head: exactly one append lands, the other is told to
    /// decide again; the log has no gap and no duplicate.
    @Test func ofTwoAppendsOnTheSameHeadExactlyOneLands() async throws {
        let t = try TestLog()
        for round in 0..<20 {
            let head = try #require(try t.log.head()?.sequence ?? 0)
            let results = await withTaskGroup(of: Result<ClosedRange<UInt64>, LogError>.self) { group in
                for writer in 0..<2 {
                    group.addTask {
                        do {
                            return .success(try await t.log.append([NewEvent(kind: 1, body: body("round \(round) writer \(writer)"))],
                                                                   keyChanges: KeyTableChanges(), expectedHead: head))
                        } catch {
                            return .failure(error as! LogError)
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let landed = results.compactMap { try? $0.get() }
            #expect(landed.count == 1, "round \(round): \(results)")
            #expect(results.contains { if case .failure(.headMoved(head, _)) = $0 { true } else { false } }, "round \(round): \(results)")
        }
        let report = t.log.verify(keyring: t.keyring)
        #expect(report.isIntact && report.eventsOpened == 20, "\(report)")
    }

    /// A segment record the writer adds on its own (after a reopen) does not count against the
    /// head the appender saw.
    @Test func theWritersOwnSegmentRecordDoesNotMoveTheExpectedHead() async throws {
        let t = try TestLog()
        let head = try await t.log.append(kind: 1, body: body("before"))
        t.log.close()
        let reopened = try t.reopen()
        reopened.setRecipients([LogRecipient(t.key.publicKey)], epoch: 1)
        let range = try await reopened.append([NewEvent(kind: 1, body: body("after"))], keyChanges: KeyTableChanges(), expectedHead: head)
        #expect(range == (head + 2)...(head + 2))  // head + 1 is the new segment record
    }
}

/// The store's live tail: what is there, then what is committed after.
@Suite struct EventStoreTailTests {
    @Test func theTailDeliversTheLogThenNewEvents() async throws {
        let t = try TestLog()
        let store: any EventStore = t.log
        try await store.append(kind: 1, body: body("before"))
        var iterator = store.tail(from: 1, keyring: t.keyring).makeAsyncIterator()
        #expect(try await iterator.next().map { String(decoding: $0.body, as: UTF8.self) } == "before")
        try await store.append(kind: 1, body: body("after"))
        #expect(try await iterator.next().map { String(decoding: $0.body, as: UTF8.self) } == "after")
        store.close()
        #expect(try await iterator.next() == nil)
    }
}
