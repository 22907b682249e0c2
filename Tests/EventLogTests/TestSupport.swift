import CLMDB
import Crypto
import Foundation
@testable import EventLog

/// A fresh directory under the system temp dir, removed when the value is released.
final class TemporaryDirectory: @unchecked Sendable {
    let path: String

    init(_ name: String = "spike-log-test") {
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("\(name)-XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(created != nil, "mkdtemp failed")
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func sub(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A log with one recipient key, ready to append.
struct TestLog {
    let directory: TemporaryDirectory
    let key: Curve25519.KeyAgreement.PrivateKey
    let log: EventLog

    init(options: EventLog.Options = .init(), key: Curve25519.KeyAgreement.PrivateKey = .init()) throws {
        directory = TemporaryDirectory()
        self.key = key
        log = try EventLog.open(directory: directory.sub("log"), options: options)
        log.setRecipients([LogRecipient(key.publicKey)], epoch: 1)
    }

    var keyring: LogKeyring { LogKeyring([key]) }
    var path: String { directory.sub("log") }

    func reopen(readOnly: Bool = false) throws -> EventLog {
        var options = EventLog.Options()
        options.readOnly = readOnly
        return try EventLog.open(directory: path, options: options)
    }
}

func body(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Direct LMDB access for tests that damage a log the way a disk or an attacker would.
final class RawLMDB {
    let env: OpaquePointer
    init(directory: String) throws {
        var env: OpaquePointer?
        try LMDBError.check(mdb_env_create(&env), "create")
        self.env = env!
        try LMDBError.check(mdb_env_set_maxdbs(self.env, 4), "maxdbs")
        try LMDBError.check(mdb_env_open(self.env, directory, 0, 0o600), "open")
    }

    deinit { mdb_env_close(env) }

    func write(_ db: String, _ body: (OpaquePointer, MDB_dbi) throws -> Void) throws {
        var txn: OpaquePointer?
        try LMDBError.check(mdb_txn_begin(env, nil, 0, &txn), "begin")
        var dbi: MDB_dbi = 0
        try LMDBError.check(mdb_dbi_open(txn, db, 0, &dbi), "dbi")
        do { try body(txn!, dbi) } catch { mdb_txn_abort(txn); throw error }
        try LMDBError.check(mdb_txn_commit(txn), "commit")
    }

    func put(_ db: String, key: [UInt8], value: [UInt8]) throws {
        try write(db) { txn, dbi in
            var key = key, value = value
            try key.withUnsafeMutableBytes { k in
                try value.withUnsafeMutableBytes { v in
                    var kv = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
                    var vv = MDB_val(mv_size: v.count, mv_data: v.baseAddress)
                    try LMDBError.check(mdb_put(txn, dbi, &kv, &vv, 0), "put")
                }
            }
        }
    }

    func delete(_ db: String, key: [UInt8]) throws {
        try write(db) { txn, dbi in
            var key = key
            try key.withUnsafeMutableBytes { k in
                var kv = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
                try LMDBError.check(mdb_del(txn, dbi, &kv, nil), "del")
            }
        }
    }
}

func seqKey(_ sequence: UInt64) -> [UInt8] { withUnsafeBytes(of: sequence.bigEndian) { Array($0) } }

/// Flips one byte at `offset` of every copy of `record` in the directory's data.mdb (copy-on-write
/// may have left stale copies in free pages). Returns how many copies it changed.
@discardableResult
func flipByte(in record: [UInt8], at offset: Int, directory: String) throws -> Int {
    let path = (directory as NSString).appendingPathComponent("data.mdb")
    var data = try Data(contentsOf: URL(fileURLWithPath: path))
    var changed = 0
    var searchStart = data.startIndex
    while let range = data.range(of: Data(record), in: searchStart..<data.endIndex) {
        data[range.lowerBound + offset] ^= 0x01
        changed += 1
        searchStart = range.upperBound
    }
    try data.write(to: URL(fileURLWithPath: path))
    return changed
}

/// The directory that holds the test binary and the package's other executables.
var productsDirectory: URL {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
}
