import ChildProcesses
import Crypto
import Foundation
import PostgresEventStore
import Testing
@testable import EventLog

/// What only a shared store has: several writers (Nexus replicas) on one log, followers, the
/// schema, the server going away, and a URL that holds a password.
@Suite struct PostgresStoreTests {
    /// Two writers append concurrently to one log: every append lands once, in one chain.
    @Test func twoWritersOnOneLogLeaveNoGapAndNoDuplicate() async throws {
        let t = try TestStore(.postgres)
        let other = try t.open()
        let stores = [t.store, other]
        let ranges = try await withThrowingTaskGroup(of: [ClosedRange<UInt64>].self) { group in
            for writer in 0..<8 {
                let store = stores[writer % 2]
                group.addTask {
                    var mine: [ClosedRange<UInt64>] = []
                    for index in 0..<20 {
                        mine.append(try await store.append([NewEvent(kind: 1, body: body("\(writer)/\(index)"))]))
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let sequences = ranges.flatMap { Array($0) }
        #expect(sequences.count == 160 && Set(sequences).count == 160)
        let report = t.store.verify(keyring: t.keyring)
        #expect(report.isIntact && report.eventsOpened == 160, "\(report)")
        #expect(try texts(t.store, keyring: t.keyring).count == 160)
    }

    /// Of two writers that decided on the same head, exactly one lands; the other hears
    /// `headMoved` even though its own writer had not seen the other's append.
    @Test func theExpectedHeadHoldsAcrossWriters() async throws {
        let t = try TestStore(.postgres)
        let other = try t.open()
        let head = try await t.store.append(kind: 1, body: body("base"))
        #expect(try await other.append([NewEvent(kind: 1, body: body("B wins"))], keyChanges: KeyTableChanges(), expectedHead: head).lowerBound > head)
        await #expect {
            try await t.store.append([NewEvent(kind: 1, body: body("A too late"))], keyChanges: KeyTableChanges(), expectedHead: head)
        } throws: { error in
            if case LogError.headMoved(head, let found) = error { found > head } else { false }
        }
        let now = try #require(try t.store.head()).sequence
        _ = try await t.store.append([NewEvent(kind: 1, body: body("A decides again"))], keyChanges: KeyTableChanges(), expectedHead: now)
        #expect(try texts(t.store, keyring: t.keyring) == ["base", "B wins", "A decides again"])
    }

    /// A follower's tail delivers another writer's records (NOTIFY, or the periodic read).
    @Test func aTailSeesAnotherWritersAppends() async throws {
        let t = try TestStore(.postgres)
        let reader = try t.open(readOnly: true)
        var iterator = reader.tail(from: 1, keyring: t.keyring).makeAsyncIterator()
        try await t.store.append(kind: 1, body: body("from the other replica"))
        #expect(try await iterator.next().map { String(decoding: $0.body, as: UTF8.self) } == "from the other replica")
    }

    /// The server drops every connection of the log (a restart, a failover): the next append
    /// reconnects; reads and the chain are unaffected.
    @Test func appendsResumeAfterTheServerDropsTheConnections() async throws {
        let t = try TestStore(.postgres)
        try await t.store.append(kind: 1, body: body("before"))
        try PostgresAdmin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(t.url!.database)' AND pid <> pg_backend_pid()",
            at: t.url!)
        try await t.store.append(kind: 1, body: body("after"))
        #expect(try texts(t.store, keyring: t.keyring) == ["before", "after"])
    }

    /// No server where the URL points: a clear error naming the place, never the password.
    @Test func anUnreachableServerIsReportedWithoutThePassword() throws {
        let url = try PostgresURL("postgres://spike:s3cret-pw@127.0.0.1:1/spike?sslmode=disable")
        let error = #expect(throws: LogError.self) { _ = try PostgresEventStore.open(url: url) }
        guard case .storeUnavailable(let place, _)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(place == "PostgreSQL at 127.0.0.1:1, database spike")
        #expect(!"\(error!)".contains("s3cret-pw"))
        #expect(url.description == "postgres://spike@127.0.0.1:1/spike?sslmode=disable")
        #expect(!"\(url)".contains("s3cret"))
    }

    @Test func urlsParseAsLibpqReadsThem() throws {
        let socket = try PostgresURL("postgres:///spike?host=/run/pg&user=nexus")
        #expect(socket.endpoint == .unixSocket(path: "/run/pg/.s.PGSQL.5432"))
        #expect(socket.username == "nexus" && socket.database == "spike" && socket.tlsMode == .disable)
        let tcp = try PostgresURL("postgresql://nexus:p%40ss@db.example:6543/log?sslmode=verify-full")
        #expect(tcp.endpoint == .tcp(host: "db.example", port: 6543) && tcp.tlsMode == .verifyFull)
        #expect("\(tcp)" == "postgres://nexus@db.example:6543/log?sslmode=verify-full")
        #expect(throws: PostgresURLError.malformed("sslmode 'maybe' is not one of disable, prefer, require, verify-ca, verify-full")) {
            try PostgresURL("postgres://h/db?sslmode=maybe")
        }
        #expect(throws: PostgresURLError.self) { try PostgresURL("mysql://h/db") }
        #expect(throws: PostgresURLError.self) { try PostgresURL("postgres://h/") }
    }

    /// The table refuses changes to records, whoever asks; a schema from a newer build refuses
    /// to open.
    @Test func recordsAreAppendOnlyAndANewerSchemaIsRefused() async throws {
        let t = try TestStore(.postgres)
        try await t.store.append(kind: 1, body: body("kept"))
        #expect {
            try PostgresAdmin.execute("DELETE FROM spike.events WHERE sequence = 2", at: t.url!)
        } throws: { error in
            if case LogError.storeRefused(_, let reason) = error { reason.contains("append-only") } else { false }
        }
        #expect(try texts(t.store, keyring: t.keyring) == ["kept"])
        try PostgresAdmin.execute("INSERT INTO spike.schema_version (version) VALUES (99)", at: t.url!)
        #expect(throws: LogError.unsupportedSchema(found: 99, supported: 2)) { _ = try t.open() }
    }
}

extension PostgresStoreTests {
    /// The log over TLS to the private server's TCP port (`scripts/test` makes its certificate for
    /// `localhost` from a CA of its own, and refuses TCP without TLS): `verify-full` reads and writes;
    /// the same URL naming the server by address, a CA that did not sign it, or no TLS, is refused.
    @Test func aLogOverTLSIsTheServerItNamesOrNothing() async throws {
        guard let text = ProcessInfo.processInfo.environment["SPIKE_TEST_POSTGRES_TLS_URL"], !text.isEmpty else {
            Issue.record("SPIKE_TEST_POSTGRES_TLS_URL is not set: run scripts/test, which starts the private PostgreSQL with TLS")
            return
        }
        let server = try PostgresURL(text)
        let socketServer = try testServerURL()
        let name = "spike_tls_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        _ = try PostgresAdmin.createDatabase(name, at: socketServer)
        defer { try? PostgresAdmin.dropDatabase(name, at: socketServer) }
        let url = try PostgresURL(text.replacingOccurrences(of: "/postgres?", with: "/\(name)?"))
        #expect(url.database == name && server.database == "postgres")

        let key = Curve25519.KeyAgreement.PrivateKey()
        let store = try PostgresEventStore.open(url: url)
        store.setRecipients([LogRecipient(key.publicKey)], epoch: 1)
        try await store.append(kind: 1, body: body("over TLS"))
        #expect(try texts(store, keyring: LogKeyring([key])) == ["over TLS"])
        store.close()

        func refusal(_ changed: String) -> String? {
            do {
                let opened = try PostgresEventStore.open(url: try PostgresURL(changed))
                opened.close()
                return nil
            } catch LogError.storeUnavailable(_, let reason) {
                return reason
            } catch {
                return "\(error)"
            }
        }
        // The certificate names localhost, not 127.0.0.1: verify-full refuses, verify-ca does not.
        let byAddress = text.replacingOccurrences(of: "@localhost:", with: "@127.0.0.1:")
        #expect(refusal(byAddress)?.contains("certificate") == true, "\(refusal(byAddress) ?? "opened")")
        #expect(refusal(byAddress.replacingOccurrences(of: "sslmode=verify-full", with: "sslmode=verify-ca")) == nil)
        // Another CA: refused.
        let otherCA = NSTemporaryDirectory() + "spike-other-ca-\(UUID().uuidString).pem"
        let made = try ChildProcess(executable: "/usr/bin/openssl", arguments: [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=other",
            "-keyout", otherCA + ".key", "-out", otherCA]).wait()
        try #require(made == .exited(0), "openssl req: \(made)")
        defer { try? FileManager.default.removeItem(atPath: otherCA); try? FileManager.default.removeItem(atPath: otherCA + ".key") }
        let withOtherCA = text.replacingOccurrences(of: #"sslrootcert=[^&]*"#, with: "sslrootcert=\(otherCA)", options: .regularExpression)
        #expect(refusal(withOtherCA)?.contains("CERTIFICATE_VERIFY_FAILED") == true, "\(refusal(withOtherCA) ?? "opened")")
        // No TLS: the server takes none over TCP.
        let plain = text.replacingOccurrences(of: "sslmode=verify-full", with: "sslmode=disable")
        #expect(refusal(plain).map { $0.contains("pg_hba.conf rejects connection for host \"127.0.0.1\"") && $0.contains("no encryption") } == true, "\(refusal(plain) ?? "opened")")
    }
}
