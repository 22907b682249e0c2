import Crypto
import Foundation
import Testing
@testable import EventLog

@Suite struct AppendAndReadTests {
    @Test func appendedEventsReadBackInOrder() async throws {
        let t = try TestLog()
        var sequences: [UInt64] = []
        for index in 0..<10 {
            sequences.append(try await t.log.append(kind: 40, body: body("event \(index)")))
        }
        // Record 1 is the segment record; events follow without gaps.
        #expect(sequences == Array(2...11))
        let events = try t.log.reader(keyring: t.keyring).events(in: 1...11)
        #expect(events.map(\.sequence) == Array(2...11))
        #expect(events.map { String(decoding: $0.body, as: UTF8.self) } == (0..<10).map { "event \($0)" })
        #expect(events.allSatisfy { $0.kind == 40 && $0.header.epoch == 1 && $0.header.segment == 1 })
        #expect(try t.log.head()?.sequence == 11)
    }

    @Test func batchAppendIsContiguous() async throws {
        let t = try TestLog()
        let range = try await t.log.append((0..<100).map { NewEvent(kind: UInt16($0), body: body("b\($0)")) })
        #expect(range == 2...101)
        let events = try t.log.reader(keyring: t.keyring).events(in: range)
        #expect(events.map(\.kind) == (0..<100).map { UInt16($0) })
    }

    @Test func concurrentAppendsAreGroupCommitted() async throws {
        let t = try TestLog()
        let appenders = 64
        let perAppender = 20
        let sequences = try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for appender in 0..<appenders {
                group.addTask {
                    var mine: [UInt64] = []
                    for index in 0..<perAppender {
                        mine.append(try await t.log.append(kind: 1, body: body("\(appender)/\(index)")))
                    }
                    return mine
                }
            }
            return try await group.reduce(into: [UInt64]()) { $0 += $1 }
        }
        let total = appenders * perAppender
        #expect(Set(sequences).count == total)
        #expect(sequences.min() == 2 && sequences.max() == UInt64(total + 1))
        let statistics = t.log.statistics
        #expect(statistics.appendCalls == UInt64(total))
        #expect(statistics.events == UInt64(total))
        // Many appends shared each fsync.
        #expect(statistics.transactions < statistics.appendCalls / 2)
        #expect(t.log.verify(keyring: t.keyring).isIntact)
    }

    @Test func reopeningStartsANewSegmentAndContinuesTheChain() async throws {
        let t = try TestLog()
        try await t.log.append(kind: 1, body: body("before"))
        t.log.close()
        let reopened = try t.reopen()
        reopened.setRecipients([LogRecipient(t.key.publicKey)], epoch: 2)
        let sequence = try await reopened.append(kind: 1, body: body("after"))
        #expect(sequence == 4)  // 1 segment, 2 event, 3 new segment, 4 event
        let report = reopened.verify(keyring: t.keyring)
        #expect(report.isIntact)
        #expect(report.segments == 2)
        #expect(report.eventsOpened == 2)
        let events = try reopened.reader(keyring: t.keyring).events(in: 1...4)
        #expect(events.map(\.header.epoch) == [1, 2])
    }

    @Test func segmentsRotateByCount() async throws {
        var options = EventLog.Options()
        options.segmentMaxRecords = 10
        let t = try TestLog(options: options)
        for index in 0..<35 { try await t.log.append(kind: 1, body: body("\(index)")) }
        let report = t.log.verify(keyring: t.keyring)
        #expect(report.isIntact)
        #expect(report.segments == 4)
        #expect(try t.log.reader(keyring: t.keyring).events(in: 1...100).count == 35)
    }

    @Test func anyRecipientCanRead() async throws {
        let auditor = Curve25519.KeyAgreement.PrivateKey()
        let t = try TestLog()
        t.log.setRecipients([LogRecipient(t.key.publicKey), LogRecipient(auditor.publicKey)], epoch: 1)
        try await t.log.append(kind: 1, body: body("for both"))
        let events = try t.log.reader(keyring: LogKeyring([auditor])).events(in: 1...10)
        #expect(events.map(\.body) == [body("for both")])
    }

    @Test func wrongKeyIsAClearError() async throws {
        let t = try TestLog()
        try await t.log.append(kind: 1, body: body("secret"))
        let stranger = Curve25519.KeyAgreement.PrivateKey()
        #expect {
            try t.log.reader(keyring: LogKeyring([stranger])).events(in: 1...2)
        } throws: { error in
            guard case LogError.noKeyForSegment(let segment, let sealedTo, let offered) = error else { return false }
            return segment == 1 && sealedTo == [LogRecipient(t.key.publicKey).id.hexString]
                && offered == [LogRecipient(stranger.publicKey).id.hexString]
        }
        let report = t.log.verify(keyring: LogKeyring([stranger]))
        #expect(report.problems.map(\.kind) == [.noKey])
        #expect(report.problems.first?.sequence == 1)
        // Without a key, the chain alone still verifies.
        #expect(t.log.verify().isIntact)
    }

    @Test func badAppendsAreRefused() async throws {
        var options = EventLog.Options()
        options.maxEventSize = 1000
        let t = try TestLog(options: options)
        await #expect(throws: LogError.self) { try await t.log.append([]) }
        await #expect(throws: LogError.self) { try await t.log.append(kind: 1, body: [UInt8](repeating: 0, count: 1001)) }
        let fresh = try EventLog.open(directory: t.directory.sub("other"))
        await #expect {
            try await fresh.append(kind: 1, body: body("x"))
        } throws: { error in
            if case LogError.noRecipients = error { return true }
            return false
        }
        // Nothing was written by the refused appends.
        #expect(try t.log.head() == nil)
        #expect(try fresh.head() == nil)
        let readOnly = try t.reopen(readOnly: true)
        await #expect(throws: LogError.self) { try await readOnly.append(kind: 1, body: body("x")) }
    }

    @Test func appendAfterCloseIsRefused() async throws {
        let t = try TestLog()
        t.log.close()
        await #expect {
            try await t.log.append(kind: 1, body: body("late"))
        } throws: { error in
            if case LogError.closed = error { return true }
            return false
        }
    }

    @Test func tinyMapGrowsAndLosesNothing() async throws {
        var options = EventLog.Options()
        options.initialMapSize = 256 << 10
        let t = try TestLog(options: options)
        let initial = t.log.mapSize
        let payload = [UInt8](repeating: 0x5a, count: 2000)
        for round in 0..<40 {
            try await t.log.append((0..<50).map { NewEvent(kind: UInt16(round), body: payload + body("\($0)")) })
        }
        #expect(t.log.mapSize >= initial * 8, "the map grew at least three times")
        let report = t.log.verify(keyring: t.keyring)
        #expect(report.isIntact)
        #expect(report.eventsOpened == 2000)
        let events = try t.log.reader(keyring: t.keyring).events(in: 1...5000)
        #expect(events.count == 2000)
        #expect(events.last?.body == payload + body("49"))
    }

    @Test func canaryNeverReachesTheFiles() async throws {
        let canary = "CANARY-\(UUID().uuidString)"
        let t = try TestLog()
        try await t.log.append(kind: 40, body: body(#"{"path":"db/creds","value":"\#(canary)"}"#))
        try await t.log.append(kind: 40, body: body(canary + canary))
        try t.log.backup(to: t.directory.sub("backup"))
        t.log.close()
        let needle = Data(canary.utf8)
        for directory in [t.path, t.directory.sub("backup")] {
            for file in try FileManager.default.contentsOfDirectory(atPath: directory) {
                let data = try Data(contentsOf: URL(fileURLWithPath: (directory as NSString).appendingPathComponent(file)))
                #expect(data.range(of: needle) == nil, "canary found in \(file)")
            }
        }
        // And it is really there, encrypted.
        let events = try t.reopen(readOnly: true).reader(keyring: t.keyring).events(in: 1...3)
        #expect(String(decoding: events[1].body, as: UTF8.self) == canary + canary)
    }

    @Test func hotBackupVerifiesLikeTheOriginal() async throws {
        let t = try TestLog()
        try await t.log.append((0..<500).map { NewEvent(kind: 1, body: body("e\($0)")) })
        // Appends continue while the copy is made.
        async let more: Void = {
            for index in 0..<50 { try await t.log.append(kind: 2, body: body("during \(index)")) }
        }()
        try t.log.backup(to: t.directory.sub("backup"))
        try await more
        var options = EventLog.Options()
        options.readOnly = true
        let copy = try EventLog.open(directory: t.directory.sub("backup"), options: options)
        #expect(copy.logID == t.log.logID)
        let report = copy.verify(keyring: t.keyring)
        #expect(report.isIntact)
        #expect(report.eventsOpened >= 500)
        #expect(throws: LogError.self) { try t.log.backup(to: t.directory.sub("backup")) }
    }

    @Test func tailDeliversPastAndNewEvents() async throws {
        let t = try TestLog()
        try await t.log.append(kind: 1, body: body("old"))
        let tail = t.log.reader(keyring: t.keyring).tail(from: 1)
        let consumer = Task {
            var seen: [String] = []
            for try await event in tail {
                seen.append(String(decoding: event.body, as: UTF8.self))
                if seen.count == 4 { break }
            }
            return seen
        }
        try await Task.sleep(for: .milliseconds(50))
        for text in ["new1", "new2", "new3"] { try await t.log.append(kind: 1, body: body(text)) }
        #expect(try await consumer.value == ["old", "new1", "new2", "new3"])
    }

    @Test func tailEndsWhenTheLogCloses() async throws {
        let t = try TestLog()
        let tail = t.log.reader(keyring: t.keyring).tail(from: 1)
        let consumer = Task {
            var count = 0
            for try await _ in tail { count += 1 }
            return count
        }
        try await t.log.append(kind: 1, body: body("only"))
        try await Task.sleep(for: .milliseconds(50))
        t.log.close()
        #expect(try await consumer.value == 1)
    }
}
