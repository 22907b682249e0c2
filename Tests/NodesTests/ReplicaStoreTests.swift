import Crypto
import EventLog
import Foundation
import NexusCore
import Nodes
import PostgresEventStore
import Projections
import SpikeAPI
import Testing

/// Two Nexus data stores, as two replicas hold them, on one log in a real PostgreSQL database
/// (the private server `scripts/test` starts): each appends right after what it folded, and
/// folds what the other appended when the log moved on.
@Suite(.serialized) struct ReplicaStoreTests {
    static let superuser = "spiffe://spike.ist/spike/pilot/role/superuser"

    /// A fresh database, two stores on it unlocked with one root key, and the audit key both read with.
    final class Replicas: @unchecked Sendable {
        let serverURL: PostgresURL
        let url: PostgresURL
        let auditKey = Curve25519.KeyAgreement.PrivateKey()
        let rootKey = RootKey.generate()
        let logs: [PostgresEventStore]
        let stores: [NexusStore]

        init(count: Int = 2) throws {
            guard let text = ProcessInfo.processInfo.environment["SPIKE_TEST_POSTGRES_URL"], !text.isEmpty else {
                Issue.record("SPIKE_TEST_POSTGRES_URL is not set: run scripts/test, which starts a private PostgreSQL")
                throw CancellationError()
            }
            let server = try PostgresURL(text)
            let url = try PostgresAdmin.createDatabase("spike_replicas_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(),
                                                       at: server)
            let logs = try (0..<count).map { _ in try PostgresEventStore.open(url: url) }
            let key = auditKey
            (serverURL, self.url, self.logs) = (server, url, logs)
            stores = logs.map { log in
                log.setRecipients([LogRecipient(key.publicKey)], epoch: 1)
                return NexusStore(log: log, keyring: LogKeyring([key]), projections: NexusProjections(), versionKeys: [:], maxVersions: 1000)
            }
            for store in stores { try store.unlock(rootKey: rootKey, epoch: 1) }
        }

        func close() async {
            for store in stores { await store.stop() }
            for log in logs { log.close() }
            try? PostgresAdmin.dropDatabase(url.database, at: serverURL)
        }

        func put(_ replica: Int, _ path: String, _ value: String, cas: Int? = nil) async -> DataOutcome {
            guard let sealed = try? stores[replica].seal(["v": value], path: path) else { return .notReady }
            return await stores[replica].write(.putSecret(path: path, sealed: sealed, cas: cas), actor: ReplicaStoreTests.superuser, trail: value)
        }

        /// Waits until every store has folded the log through its head (at most `limit`).
        func settle(within limit: Duration = .seconds(10)) async throws {
            let deadline = ContinuousClock.now + limit
            while true {
                let head = try logs[0].head()?.sequence ?? 0
                if stores.allSatisfy({ $0.position.sequence == head }) { return }
                guard ContinuousClock.now < deadline else {
                    Issue.record("not every replica folded the log through \(head): \(stores.map(\.position.sequence))")
                    return
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    @Test func twoReplicasWritingOneSecretGetEveryVersionOnce() async throws {
        let replicas = try Replicas()
        let perReplica = 60
        let outcomes = await withTaskGroup(of: (String, DataOutcome).self) { group in
            for replica in 0..<2 {
                for index in 0..<perReplica {
                    group.addTask {
                        let value = "r\(replica)-\(index)"
                        return (value, await replicas.put(replica, "apps/shared", value))
                    }
                }
            }
            var all: [(String, DataOutcome)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        #expect(outcomes.allSatisfy { $0.1 == .done }, "\(outcomes.filter { $0.1 != .done })")
        try await replicas.settle()
        for store in replicas.stores {
            let entry = try #require(store.metadata("apps/shared", version: 0))
            #expect(entry.versions.keys.sorted() == Array(1...(2 * perReplica)), "no gap, no duplicate")
            // Every acknowledged value is one version, readable on this replica.
            var values: Set<String> = []
            for version in 1...(2 * perReplica) {
                guard case .value(let read) = store.secret("apps/shared", version: version), let value = read["v"] else {
                    Issue.record("version \(version) does not read on a replica")
                    continue
                }
                values.insert(value)
            }
            #expect(values == Set(outcomes.map(\.0)), "every write is a version, none lost")
        }
        #expect(replicas.stores[0].projection.secrets == replicas.stores[1].projection.secrets, "both replicas hold the same data")
        await replicas.close()
    }

    @Test func checkAndSetHoldsAcrossReplicas() async throws {
        let replicas = try Replicas()
        #expect(await replicas.put(0, "apps/cas", "first", cas: 0) == .done)
        try await replicas.settle()
        // Both decide against version 1; the second one to reach the log finds it moved, folds
        // the first one's write and refuses.
        async let viaA = replicas.put(0, "apps/cas", "from A", cas: 1)
        async let viaB = replicas.put(1, "apps/cas", "from B", cas: 1)
        let results = await [viaA, viaB]
        #expect(results.filter { $0 == .done }.count == 1 && results.contains(.versionMismatch(current: 2)), "\(results)")
        // The loser's own replica answers with the winner's write.
        try await replicas.settle()
        let winner = results[0] == .done ? "from A" : "from B"
        for store in replicas.stores { #expect(store.secret("apps/cas", version: 0) == .value(["v": winner])) }
        await replicas.close()
    }

    @Test func aReplicaReadsAnotherOnesWriteWithoutWritingItself() async throws {
        let replicas = try Replicas()
        #expect(await replicas.put(0, "apps/seen", "hello") == .done)
        // B writes nothing: its follower folds A's record (LISTEN/NOTIFY, or the head read each second).
        let deadline = ContinuousClock.now + .seconds(5)
        while replicas.stores[1].secret("apps/seen", version: 0) != .value(["v": "hello"]), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(replicas.stores[1].secret("apps/seen", version: 0) == .value(["v": "hello"]))
        #expect(replicas.stores[1].lag.records == 0)
        await replicas.close()
    }

    /// A replica that cannot fold what another appended (a record sealed to a key it does not
    /// hold) falls behind and says so: its lag grows, and `/readyz` answers not ready once it has
    /// been behind for longer than the tolerance (its reads still serve what it folded).
    @Test func aReplicaThatCannotFollowSaysItIsBehind() async throws {
        let replicas = try Replicas()
        #expect(await replicas.put(0, "apps/db", "folded") == .done)
        try await replicas.settle()
        let stranger = try PostgresEventStore.open(url: replicas.url)
        stranger.setRecipients([LogRecipient(Curve25519.KeyAgreement.PrivateKey().publicKey)], epoch: 1)
        try await stranger.append(kind: AccessDenied.kind.number, body: DomainEvent(actor: "x", trail: "x",
                                                                                     AccessDenied(operation: "o", path: "p", wants: [], at: 1)).encoded())
        stranger.close()
        let deadline = ContinuousClock.now + .seconds(5)
        while replicas.stores[1].lag.since == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let lag = replicas.stores[1].lag
        #expect(lag.records >= 1 && lag.since != nil, "\(lag)")
        #expect(replicas.stores[1].secret("apps/db", version: 0) == .value(["v": "folded"]), "reads go on from what was folded")
        let ready = NexusStatus(state: .ready, ready: true, epoch: 1, sharesInHand: 2, threshold: 2, keepers: [], reason: nil)
        let soon = NexusNode.status(ready, replica: "nexus-2", position: 10, lag: (lag.records, .seconds(1)))
        #expect(soon.ready && soon.log == NexusStatus.Log(replica: "nexus-2", position: 10, head: 10 + lag.records, behindSeconds: 1))
        let late = NexusNode.status(ready, replica: "nexus-2", position: 10, lag: (lag.records, NexusStore.lagTolerance + .seconds(1)))
        #expect(!late.ready && late.reason?.hasPrefix("behind the log: \(lag.records) records other replicas appended are not folded yet") == true)
        await replicas.close()
    }

    /// The attacker holds the audit key and may write to the database, but not the root key:
    /// a policy record appended behind the replicas' backs does not authenticate, and a replica
    /// that folds it stops serving rather than grant it.
    @Test func aRecordAppendedWithoutTheRootKeyStopsAReplicaServing() async throws {
        let replicas = try Replicas()
        #expect(await replicas.put(0, "apps/db", "real") == .done)
        try await replicas.settle()
        let attacker = try PostgresEventStore.open(url: replicas.url)
        attacker.setRecipients([LogRecipient(replicas.auditKey.publicKey)], epoch: 1)
        let forged = PolicyPut(name: "mine", spiffeidPattern: ".*", pathPattern: ".*", permissions: ["super"], createdAt: 1, updatedAt: 1)
        try await attacker.append([NewEvent(kind: PolicyPut.kind.number, body: DomainEvent(actor: "x", trail: "x", forged).encoded(),
                                            authenticationKey: SymmetricKey(size: .bits256))])
        attacker.close()
        let deadline = ContinuousClock.now + .seconds(5)
        while replicas.stores[1].refusal == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let refusal = try #require(replicas.stores[1].refusal)
        #expect(refusal.contains("is a PolicyPut whose authenticator the root key does not confirm"), "\(refusal)")
        #expect(replicas.stores[1].policy(named: "mine") == nil, "nothing of the forged record is folded")
        #expect(replicas.stores[1].secret("apps/db", version: 0) == .notReady)
        await replicas.close()
    }
}
