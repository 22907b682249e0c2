import Crypto
@testable import EventLog
import Foundation
import PostgresEventStore
import Testing

/// The two implementations of `EventStore`, for cases that must hold for both.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case lmdb, postgres
    var testDescription: String { rawValue }
}

/// The private PostgreSQL server `scripts/test` starts (its `postgres` database). Without it
/// the PostgreSQL cases fail, saying so: they are never skipped.
func testServerURL() throws -> PostgresURL {
    guard let text = ProcessInfo.processInfo.environment["SPIKE_TEST_POSTGRES_URL"], !text.isEmpty else {
        Issue.record("SPIKE_TEST_POSTGRES_URL is not set: run scripts/test, which starts a private PostgreSQL")
        throw StoreSetupError.noServer
    }
    return try PostgresURL(text)
}

enum StoreSetupError: Error { case noServer }

/// A new, empty store of one kind with one recipient key, and what a test needs around it: a
/// second open of the same log, and raw access to damage it as an attacker would. The LMDB
/// directory or the PostgreSQL database goes when the value does.
final class TestStore: @unchecked Sendable {
    let kind: StoreKind
    let key = Curve25519.KeyAgreement.PrivateKey()
    private(set) var store: any EventStore
    let directory: String?
    let url: PostgresURL?
    private let serverURL: PostgresURL?
    private var others: [any EventStore] = []

    init(_ kind: StoreKind) throws {
        self.kind = kind
        switch kind {
        case .lmdb:
            let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("spike-store-\(UUID().uuidString)")
            directory = path
            url = nil
            serverURL = nil
            store = try EventLog.open(directory: path)
        case .postgres:
            let server = try testServerURL()
            serverURL = server
            let name = "spike_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let url = try PostgresAdmin.createDatabase(name, at: server)
            self.url = url
            directory = nil
            store = try PostgresEventStore.open(url: url)
        }
        store.setRecipients([LogRecipient(key.publicKey)], epoch: 1)
    }

    deinit {
        store.close()
        for other in others { other.close() }
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
        if let url, let serverURL { try? PostgresAdmin.dropDatabase(url.database, at: serverURL) }
    }

    var keyring: LogKeyring { LogKeyring([key]) }

    /// Another open of the same log: for PostgreSQL a second writer (another replica), for LMDB
    /// a reader (one process writes an LMDB log).
    func open(readOnly: Bool = false) throws -> any EventStore {
        let opened: any EventStore
        switch kind {
        case .lmdb:
            var options = EventLog.Options()
            options.readOnly = readOnly
            opened = try EventLog.open(directory: directory!, options: options)
        case .postgres:
            var options = PostgresEventStore.Options()
            options.readOnly = readOnly
            opened = try PostgresEventStore.open(url: url!, options: options)
        }
        if !readOnly { opened.setRecipients([LogRecipient(key.publicKey)], epoch: 1) }
        others.append(opened)
        return opened
    }

    /// Closes the store and opens it again for writing.
    func reopen() throws {
        store.close()
        store = try open()
    }

    /// Flips one byte of record `sequence` in storage, past any check of the store's own.
    func flipByte(ofRecord sequence: UInt64, at offset: Int) throws {
        let record = try store.rawRecord(at: sequence)
        switch kind {
        case .lmdb:
            try #require(try EventLogTests.flipByte(in: record, at: offset, directory: directory!) >= 1)
        case .postgres:
            // The table owner can switch the append-only trigger off; verification still tells.
            try ownerStatement("UPDATE spike.events SET record = set_byte(record, \(offset), get_byte(record, \(offset)) # 1) WHERE sequence = \(sequence)")
        }
    }

    /// Removes the last records from `sequence` on, leaving the head as it was: a truncated log.
    func truncate(from sequence: UInt64) throws {
        switch kind {
        case .lmdb:
            let head = try #require(try store.head()).sequence
            store.close()
            let raw = try RawLMDB(directory: directory!)
            for doomed in sequence...head { try raw.delete("events", key: seqKey(doomed)) }
        case .postgres:
            store.close()
            try ownerStatement("DELETE FROM spike.events WHERE sequence >= \(sequence)")
        }
    }

    private func ownerStatement(_ sql: String) throws {
        try PostgresAdmin.execute("ALTER TABLE spike.events DISABLE TRIGGER events_append_only", at: url!)
        try PostgresAdmin.execute(sql, at: url!)
        try PostgresAdmin.execute("ALTER TABLE spike.events ENABLE TRIGGER events_append_only", at: url!)
    }
}

func texts(_ store: any EventStore, keyring: LogKeyring) throws -> [String] {
    var out: [String] = []
    _ = try store.replay(from: 1, through: nil, keyring: keyring) { out.append(String(decoding: $0.body, as: UTF8.self)) }
    return out
}
