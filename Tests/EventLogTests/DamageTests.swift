import Foundation
import Testing
@testable import EventLog

/// Damage done the way a disk or an attacker would, directly to the LMDB files: every kind is
/// reported with the sequence it concerns, and nothing crashes.
@Suite struct DamageTests {
    /// A closed log of one segment record and `events` events (sequences 2…events+1).
    private func closedLog(events: Int = 10) async throws -> TestLog {
        let t = try TestLog()
        try await t.log.append((0..<events).map { NewEvent(kind: 40, body: body("event number \($0) with some padding")) })
        t.log.close()
        return t
    }

    @Test func flippedBodyByteIsReportedAtItsSequence() async throws {
        let t = try await closedLog()
        let record = try t.log.rawRecord(at: 5)
        #expect(try flipByte(in: record, at: RecordHeader.size + 20, directory: t.path) >= 1)
        let log = try t.reopen(readOnly: true)
        let report = log.verify(keyring: t.keyring)
        #expect(!report.isIntact)
        #expect(Set(report.problems.map(\.sequence)) == [5])
        #expect(Set(report.problems.map(\.kind)) == [.alteredRecord, .bodyAuthenticationFailed])
        // Without a key the chain alone finds it.
        #expect(log.verify().problems.map(\.sequence) == [5])
        // Reading refuses rather than returning altered data.
        #expect(throws: LogError.self) { try log.reader(keyring: t.keyring).events(in: 1...11) }
        #expect(try log.reader(keyring: t.keyring).events(in: 1...4).count == 3)
    }

    @Test(arguments: [2, 8, 20, 40])  // kind, sequence, time, previous-hash bytes
    func flippedHeaderByteIsReportedAtItsSequence(offset: Int) async throws {
        let t = try await closedLog()
        let record = try t.log.rawRecord(at: 6)
        #expect(try flipByte(in: record, at: offset, directory: t.path) >= 1)
        let report = try t.reopen(readOnly: true).verify(keyring: t.keyring)
        #expect(!report.isIntact)
        #expect(report.problems.contains { $0.sequence == 6 })
        #expect(report.problems.allSatisfy { $0.sequence == 6 }, "\(report)")
    }

    @Test func damagedLastRecordRefusesAppendsButStaysReadable() async throws {
        let t = try await closedLog()
        let record = try t.log.rawRecord(at: 11)
        try flipByte(in: record, at: record.count - 3, directory: t.path)
        #expect {
            try t.reopen()
        } throws: { error in
            guard case LogError.damagedTail(let sequence, _) = error else { return false }
            return sequence == 11 && "\(error)".contains("nothing was truncated")
        }
        let readOnly = try t.reopen(readOnly: true)
        #expect(readOnly.verify(keyring: t.keyring).problems.map(\.sequence).allSatisfy { $0 == 11 })
        #expect(try readOnly.reader(keyring: t.keyring).events(in: 1...10).count == 9)
        // Still 11 records: nothing was truncated.
        #expect(try readOnly.head()?.sequence == 11)
        #expect(try readOnly.rawRecord(at: 11).count == record.count)
    }

    @Test func missingRecordIsReported() async throws {
        let t = try await closedLog()
        try RawLMDB(directory: t.path).delete("events", key: seqKey(4))
        let report = try t.reopen(readOnly: true).verify()
        #expect(report.problems.contains { $0.sequence == 4 && $0.kind == .missingRecord })
        #expect(throws: LogError.self) { try t.reopen(readOnly: true).reader(keyring: t.keyring).events(in: 1...11) }
    }

    @Test func missingLastRecordRefusesAppends() async throws {
        let t = try await closedLog()
        try RawLMDB(directory: t.path).delete("events", key: seqKey(11))
        #expect(throws: LogError.self) { try t.reopen() }
        #expect(try t.reopen(readOnly: true).verify().problems.contains { $0.sequence == 11 && $0.kind == .missingRecord })
    }

    @Test func reorderedRecordsAreReported() async throws {
        let t = try await closedLog()
        let r4 = try t.log.rawRecord(at: 4)
        let r5 = try t.log.rawRecord(at: 5)
        let raw = try RawLMDB(directory: t.path)
        try raw.put("events", key: seqKey(4), value: r5)
        try raw.put("events", key: seqKey(5), value: r4)
        let report = try t.reopen(readOnly: true).verify(keyring: t.keyring)
        #expect(report.problems.contains { $0.sequence == 4 && $0.kind == .misplacedRecord })
        #expect(report.problems.contains { $0.sequence == 5 && $0.kind == .misplacedRecord })
    }

    @Test func truncatedRecordIsAClearError() async throws {
        let t = try await closedLog()
        let record = try t.log.rawRecord(at: 3)
        try RawLMDB(directory: t.path).put("events", key: seqKey(3), value: Array(record.prefix(40)))
        let log = try t.reopen(readOnly: true)
        let report = log.verify(keyring: t.keyring)
        #expect(report.problems.contains { $0.sequence == 3 && $0.kind == .malformedRecord && $0.detail.contains("shorter than") })
        #expect {
            try log.reader(keyring: t.keyring).events(in: 1...11)
        } throws: { error in
            guard case LogError.corruptRecord(let sequence, _) = error else { return false }
            return sequence == 3
        }
    }

    @Test func unknownRecordFormatVersionIsNamed() async throws {
        let t = try await closedLog()
        var record = try t.log.rawRecord(at: 3)
        record[0] = 9
        try RawLMDB(directory: t.path).put("events", key: seqKey(3), value: record)
        let report = try t.reopen(readOnly: true).verify()
        #expect(report.problems.contains { $0.sequence == 3 && $0.detail.contains("format version 9") })
    }

    @Test func unknownLogFormatIsRefused() async throws {
        let t = try await closedLog()
        try RawLMDB(directory: t.path).put("meta", key: Array("format".utf8), value: [0, 0, 0, 2])
        #expect {
            try t.reopen(readOnly: true)
        } throws: { error in
            guard case LogError.unsupportedFormat(let found, let supported) = error else { return false }
            return found == 2 && supported == 1
        }
    }

    @Test(arguments: ["format", "log-id", "head"])
    func garbageInMetaIsAClearError(key: String) async throws {
        let t = try await closedLog()
        try RawLMDB(directory: t.path).put("meta", key: Array(key.utf8), value: [1, 2, 3])
        #expect {
            try t.reopen()
        } throws: { error in
            guard case LogError.corruptMeta(let named, _) = error else { return false }
            return named == key
        }
    }

    @Test func missingMetaWithRecordsIsAClearError() async throws {
        let t = try await closedLog()
        let raw = try RawLMDB(directory: t.path)
        for key in ["format", "log-id", "head"] { try raw.delete("meta", key: Array(key.utf8)) }
        #expect(throws: LogError.self) { try t.reopen() }
    }

    @Test func corruptSegmentEnvelopeIsReported() async throws {
        let t = try await closedLog()
        var segment = try t.log.rawRecord(at: 1)
        // Keep the layout, alter the sealed key: authentication of the envelope fails.
        segment[segment.count - 5] ^= 0xff
        try RawLMDB(directory: t.path).put("events", key: seqKey(1), value: segment)
        let report = try t.reopen(readOnly: true).verify(keyring: t.keyring)
        #expect(report.problems.contains { $0.sequence == 1 && $0.kind == .unreadableSegmentKey })
        #expect(report.problems.contains { $0.sequence == 1 && $0.kind == .alteredRecord })
    }

    @Test func recordFromAnotherLogIsRejected() async throws {
        let a = try await closedLog()
        let b = try await closedLog()
        // Same key, same positions: only the chain's binding to the log id tells them apart.
        let foreign = try b.log.rawRecord(at: 2)
        try RawLMDB(directory: a.path).put("events", key: seqKey(2), value: foreign)
        let report = try a.reopen(readOnly: true).verify()
        #expect(report.problems.contains { $0.sequence == 2 })
    }
}
