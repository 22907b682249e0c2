import CLMDB
import Crypto
import EventLog
import Foundation

/// The record decoder, attacked through the log's file: the input damages one record of a real
/// closed LMDB log (overlays bytes on it, replaces it, truncates it or deletes it) the way
/// someone with write access to the data directory would, then the log is opened read-only,
/// verified with its key and read. What must hold: a changed record is always reported by
/// `verify`, and the reader never returns an event that differs from the one written (it
/// refuses instead); an unchanged log is intact and reads back whole.
public final class RecordFuzzTarget: FuzzTarget {
    public static let name = "record"

    private let directory: String
    private let keyring: LogKeyring
    /// The stored records by sequence (1 is the segment record), and the events as written.
    private let records: [UInt64: [UInt8]]
    private let written: [UInt64: (kind: UInt16, body: [UInt8])]
    private let head: UInt64

    public init() throws {
        directory = try scratchDirectory(Self.name)
        let key = Curve25519.KeyAgreement.PrivateKey()
        keyring = LogKeyring([key])
        let log = try EventLog.open(directory: directory)
        log.setRecipients([LogRecipient(key.publicKey)], epoch: 1)
        let authentication = SymmetricKey(size: .bits256)
        let events = (0..<6).map { index in
            NewEvent(kind: UInt16(20 + index), body: Array("{\"event\":\(index),\"padding\":\"\(String(repeating: "x", count: index * 7))\"}".utf8),
                     authenticationKey: index.isMultiple(of: 2) ? authentication : nil)
        }
        let range = try runBlocking { () -> Result<ClosedRange<UInt64>, any Error> in
            do { return .success(try await log.append(events)) } catch { return .failure(error) }
        }.get()
        var records: [UInt64: [UInt8]] = [:]
        for sequence in 1...range.upperBound { records[sequence] = try log.rawRecord(at: sequence) }
        var written: [UInt64: (UInt16, [UInt8])] = [:]
        for (offset, sequence) in range.enumerated() { written[sequence] = (events[offset].kind, events[offset].body) }
        log.close()
        self.records = records
        self.written = written
        head = range.upperBound
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// The log unchanged, a segment record's byte flipped, an event replaced, cut, deleted.
    public static func seeds() -> [[UInt8]] {
        [[0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
         [2, 1, 1, 2, 3], [3, 2] + [UInt8](repeating: 0, count: 80), [6, 3]]
    }

    public func run(_ input: [UInt8]) throws(FuzzFinding) {
        guard input.count >= 2 else { return }
        let sequence = UInt64(input[0]) % head + 1
        let original = records[sequence]!
        let payload = Array(input[2...])
        let damaged: [UInt8]?
        switch input[1] % 4 {
        case 0:  // bytes flipped in place; longer input extends the record
            var bytes = original
            for (offset, byte) in payload.enumerated() {
                if offset < bytes.count { bytes[offset] ^= byte } else { bytes.append(byte) }
            }
            damaged = bytes
        case 1: damaged = payload
        case 2: damaged = Array(original.prefix(payload.count))
        default: damaged = nil
        }
        do {
            try store(damaged, at: sequence)
        } catch {
            return  // LMDB refused the value itself (an empty key or value): nothing changed
        }
        defer { try? store(original, at: sequence) }
        try check(changed: damaged != original, at: sequence)
    }

    /// Package-visible so that a test can show the check fires (an intact log claimed changed).
    package func check(changed: Bool, at sequence: UInt64) throws(FuzzFinding) {
        func expect(_ condition: Bool, _ invariant: @autoclosure () -> String) throws(FuzzFinding) {
            if !condition { throw FuzzFinding(Self.name, invariant()) }
        }
        var options = EventLog.Options()
        options.readOnly = true
        guard let log = try? EventLog.open(directory: directory, options: options) else {
            try expect(changed, "an undamaged log failed to open")
            return
        }
        defer { log.close() }
        let report = log.verify(keyring: keyring)
        try expect(report.isIntact != changed, "record \(sequence) \(changed ? "changed but verify called the log intact" : "unchanged but verify reported \(report)")")
        let events = try? log.reader(keyring: keyring).events(in: 1...head)
        if let events {
            for event in events {
                guard let expected = written[event.sequence] else {
                throw FuzzFinding(Self.name, "the reader returned record \(event.sequence), which was never written")
                }
                try expect(event.kind == expected.kind && event.body == expected.body,
                             "the reader returned an altered event at \(event.sequence)")
            }
            if !changed { try expect(events.count == written.count, "an intact log read back \(events.count) of \(written.count) events") }
        } else {
            try expect(changed, "an undamaged log could not be read")
        }
    }

    /// Writes (or, for nil, deletes) the record at `sequence` directly in the LMDB file.
    private func store(_ value: [UInt8]?, at sequence: UInt64) throws {
        var env: OpaquePointer?
        try check(mdb_env_create(&env))
        defer { mdb_env_close(env) }
        try check(mdb_env_set_maxdbs(env, 8))
        try check(mdb_env_set_mapsize(env, 64 << 20))
        try check(mdb_env_open(env, directory, UInt32(MDB_NOSYNC), 0o600))
        var txn: OpaquePointer?
        try check(mdb_txn_begin(env, nil, 0, &txn))
        var dbi: MDB_dbi = 0
        var key = withUnsafeBytes(of: sequence.bigEndian) { Array($0) }
        var value = value
        let rc = key.withUnsafeMutableBytes { k -> Int32 in
            var rc = mdb_dbi_open(txn, "events", 0, &dbi)
            guard rc == MDB_SUCCESS else { return rc }
            var kv = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
            if value == nil {
                rc = mdb_del(txn, dbi, &kv, nil)
                return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc
            }
            return value!.withUnsafeMutableBytes { v in
                var vv = MDB_val(mv_size: v.count, mv_data: v.baseAddress)
                return mdb_put(txn, dbi, &kv, &vv, 0)
            }
        }
        guard rc == MDB_SUCCESS else {
            mdb_txn_abort(txn)
            throw FuzzFinding(Self.name, "LMDB: \(rc)")
        }
        try check(mdb_txn_commit(txn))
    }

    private func check(_ rc: Int32) throws {
        guard rc == MDB_SUCCESS else { throw FuzzFinding(Self.name, "LMDB: \(String(cString: mdb_strerror(rc)))") }
    }
}
