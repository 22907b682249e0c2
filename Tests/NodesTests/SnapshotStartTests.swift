import Crypto
import EventLog
import Foundation
import Nodes
import Projections
import SpikeAPI
import Testing

/// A restarted Nexus folds its data from the latest snapshot and the log after it (ADR-0017),
/// the same data a fold of the whole log gives; a snapshot that is missing, changed, made by
/// someone without the root key or of another log is ignored and the whole log folded.
@Suite(.serialized) struct SnapshotStartTests {
    static let superuser = "/spike/pilot/role/superuser"

    /// A system with secrets (versions pruned, deleted, destroyed) and a policy, its Nexus stopped.
    static func stoppedSystem(_ environment: [String: String] = [:]) async throws -> NexusHarness {
        let nexus = try await NexusHarness(environment: environment.merging(["SPIKE_NEXUS_MAX_SECRET_VERSIONS": "2"]) { $1 })
        try await nexus.initialize()
        let admin = try nexus.client(superuser)
        for index in 1...3 {
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/db","values":{"password":"v\#(index)"}}"#).0 == 200)
        }
        #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/web/api","values":{"token":"t"}}"#).0 == 200)
        #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/old","values":{"k":"gone"}}"#).0 == 200)
        #expect(try await nexus.post(admin, "/v1/store/secrets?action=destroy", #"{"path":"apps/old","versions":[1]}"#).0 == 200)
        #expect(try await nexus.post(admin, "/v1/acl/policy",
                                     #"{"name":"web","spiffeidPattern":"^spiffe://spike\\.ist/workload/web$","pathPattern":"^apps/web/","permissions":["read"]}"#).0 == 200)
        await nexus.stopNexus()
        return nexus
    }

    /// The log of a stopped system, opened for a test's reads and changes.
    static func withLog<T>(_ nexus: NexusHarness, _ body: (EventLog) throws -> T) throws -> T {
        let log = try EventLog.open(directory: nexus.directory)
        defer { log.close() }
        return try body(log)
    }

    /// What the restarted Nexus serves is what a fold of its whole log gives.
    static func expectServesTheWholeLogsFold(_ restarted: NexusHarness) async throws {
        try await restarted.waitUntilServing()
        #expect(restarted.node.status.ready)
        let key = try LogKeyFile.readPrivateKey(at: restarted.directory + "/audit-key.pem")
        let whole = try NexusProjections.replay(restarted.node.log, keyring: LogKeyring([key])).data
        let served = restarted.node.store.projection
        #expect(served.secrets == whole.secrets && served.epoch == whole.epoch && served.accessDenials == whole.accessDenials)
        #expect(served.policies.keys.sorted() == ["web"] && whole.policies.keys.sorted() == ["web"])
        let admin = try restarted.client(superuser)
        #expect(try await restarted.post(admin, "/v1/store/secrets?action=get", #"{"path":"apps/db"}"#) == (200, #"{"data":{"password":"v3"}}"#))
        #expect(try await restarted.post(admin, "/v1/store/secrets?action=get", #"{"path":"apps/db","version":1}"#).0 == 404)
        #expect(try await restarted.post(admin, "/v1/store/secrets?action=get", #"{"path":"apps/old"}"#).0 == 404)
        let web = try restarted.client("/workload/web")
        #expect(try await restarted.post(web, "/v1/store/secrets?action=get", #"{"path":"apps/web/api"}"#) == (200, #"{"data":{"token":"t"}}"#))
    }

    @Test func aCleanStopLeavesASnapshotAndTheRestartFoldsOnlyWhatCameAfter() async throws {
        let first = try await Self.stoppedSystem()
        let stored = try #require(try Self.withLog(first) { try $0.latestSnapshot() })
        let head = try #require(try Self.withLog(first) { try $0.head() })
        // The stop's snapshot is of the data as it was at the last record the store folded.
        #expect(stored.sequence <= head.sequence && stored.sequence > 10)
        #expect(try ProjectionSnapshot.Header(stored: stored.bytes).sequence == stored.sequence)
        let restarted = try await NexusHarness(continuing: first)
        try await awaitingCleanup({ await restarted.stop() }) {
            try await Self.expectServesTheWholeLogsFold(restarted)
            let report = try #require(restarted.node.store.dataFoldReport)
            #expect(report.snapshot == stored.sequence)
            // Only the records after it: the stop's own and this start's, a handful.
            #expect(report.records < 10, "\(report)")
            // Writes go on from there, and a second restart folds them from the next snapshot.
            #expect(try await restarted.post(try restarted.client(Self.superuser), "/v1/store/secrets",
                                             #"{"path":"apps/db","values":{"password":"v4"}}"#).0 == 200)
        }
    }

    @Test func deletingTheSnapshotsLosesNothing() async throws {
        let first = try await Self.stoppedSystem()
        let stoppedHead = try #require(try Self.withLog(first) { log -> ChainHead? in
            try log.deleteSnapshots()
            return try log.head()
        })
        let restarted = try await NexusHarness(continuing: first)
        try await awaitingCleanup({ await restarted.stop() }) {
            try await Self.expectServesTheWholeLogsFold(restarted)
            let report = try #require(restarted.node.store.dataFoldReport)
            #expect(report.snapshot == nil && report.ignored == nil)
            // Folded from the first record: every record the stopped system wrote, and this
            // start's up to the fold. The lifecycle goes on appending after it (its Keeper polls'
            // outcomes), which the store holds without a fold: a clean-clone CI run on a loaded
            // machine saw 19 records folded and the position at 21.
            #expect(report.records >= stoppedHead.sequence && report.records <= restarted.node.store.position.sequence, "\(report)")
        }
    }

    /// An intruder with the data directory (the log, the host audit key) but not the root key
    /// writes a snapshot granting itself every secret, bound to the log's real last record: it
    /// cannot seal it under the snapshot key, and the start ignores it.
    @Test func aSnapshotMadeWithoutTheRootKeyIsIgnored() async throws {
        let first = try await Self.stoppedSystem()
        try Self.withLog(first) { log in
            let stored = try #require(try log.latestSnapshot())
            let header = try ProjectionSnapshot.Header(stored: stored.bytes)
            var forged = DataProjection()
            forged.apply(DomainEvent(actor: "spiffe://spike.ist/spike/pilot/role/superuser", trail: "intruder",
                                     PolicyPut(name: "backdoor", spiffeidPattern: "^spiffe://spike\\.ist/workload/intruder$", pathPattern: ".*",
                                               permissions: ["read", "list"], createdAt: 1, updatedAt: 1)))
            let guessedKey = RootKey.generate().snapshotKey(epoch: header.epoch)
            try log.deleteSnapshots()
            try log.storeSnapshot(try ProjectionSnapshot(header: header, data: forged, openedByRotation: nil).sealed(with: guessedKey),
                                  sequence: header.sequence)
        }
        let restarted = try await NexusHarness(continuing: first)
        try await awaitingCleanup({ await restarted.stop() }) {
            try await Self.expectServesTheWholeLogsFold(restarted)
            let report = try #require(restarted.node.store.dataFoldReport)
            #expect(report.snapshot == nil && report.ignored == .doesNotOpen)
            #expect(restarted.node.store.policy(named: "backdoor") == nil)
            let intruder = try restarted.client("/workload/intruder")
            #expect(try await restarted.post(intruder, "/v1/store/secrets?action=get", #"{"path":"apps/db"}"#).0 == 401)
        }
    }

    /// The Nexus' own snapshot with one byte changed, and one moved onto another record (its
    /// header changed to claim fewer records): neither opens, and both are ignored.
    @Test(arguments: [true, false])
    func aChangedSnapshotIsIgnored(movingIt: Bool) async throws {
        let first = try await Self.stoppedSystem()
        try Self.withLog(first) { log in
            let stored = try #require(try log.latestSnapshot())
            var bytes = stored.bytes
            if movingIt {
                // Record 2 is real: its link in the header too, so only the seal can tell.
                let link = try #require(try log.link(at: 2))
                bytes.replaceSubrange(16..<24, with: withUnsafeBytes(of: UInt64(2).bigEndian) { Array($0) })
                bytes.replaceSubrange(24..<56, with: link.bytes)
                try log.deleteSnapshots()
                try log.storeSnapshot(bytes, sequence: 2)
            } else {
                bytes[bytes.count / 2] ^= 1
                try log.deleteSnapshots()
                try log.storeSnapshot(bytes, sequence: stored.sequence)
            }
        }
        let restarted = try await NexusHarness(continuing: first)
        try await awaitingCleanup({ await restarted.stop() }) {
            try await Self.expectServesTheWholeLogsFold(restarted)
            let report = try #require(restarted.node.store.dataFoldReport)
            #expect(report.snapshot == nil && report.ignored == .doesNotOpen)
        }
    }

    /// A snapshot of another system's log (its own Nexus made it, under its own root key) does
    /// not name this log's records: ignored before anything is opened.
    @Test func aSnapshotOfAnotherLogIsIgnored() async throws {
        let other = try await Self.stoppedSystem()
        let foreign = try #require(try Self.withLog(other) { try $0.latestSnapshot() })
        await other.stop()
        let first = try await Self.stoppedSystem()
        try Self.withLog(first) { log in
            try log.deleteSnapshots()
            try log.storeSnapshot(foreign.bytes, sequence: foreign.sequence)
        }
        let restarted = try await NexusHarness(continuing: first)
        try await awaitingCleanup({ await restarted.stop() }) {
            try await Self.expectServesTheWholeLogsFold(restarted)
            let report = try #require(restarted.node.store.dataFoldReport)
            #expect(report.snapshot == nil && report.ignored == .notOfThisLog(sequence: foreign.sequence))
        }
    }

    /// Snapshots are written while the Nexus runs (every N records), not only at a stop: a start
    /// after a crash folds the log from the last one.
    @Test func snapshotsAreWrittenAsTheLogGrows() async throws {
        let nexus = try await NexusHarness(environment: ["SPIKE_NEXUS_SNAPSHOT_EVERY": "20"])
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let admin = try nexus.client(Self.superuser)
            for index in 1...30 {
                #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/\#(index)","values":{"k":"v"}}"#).0 == 200)
            }
            // Stored off the write loop: it lands shortly after the commit that made it due.
            let deadline = ContinuousClock.now + .seconds(10)
            var stored: StoredSnapshot?
            while stored == nil, ContinuousClock.now < deadline {
                stored = try nexus.node.log.latestSnapshot()
                if stored == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            let snapshot = try #require(stored)
            let opened = try ProjectionSnapshot.open(snapshot.bytes, with: try nexus.rootKey().snapshotKey(epoch: 1))
            #expect(opened.data.secrets.count >= 10 && opened.data.secrets.count <= 30)
            #expect(try nexus.node.log.link(at: snapshot.sequence) == opened.header.link)
        }
    }
}
