import Crypto
import EventLog
import Foundation
import NexusCore
import NIOHTTP1
import Nodes
import Projections
import SpikeAPI
import SpikeClient
import Testing

/// The rollback attack (issue 13): someone with write access to the data directory puts back an
/// older copy of the log, which brings back the key of a version destroyed since. The chain of the
/// copy is intact, so only the head the Keeper witnessed can tell: the Nexus refuses to serve,
/// says why in `/readyz`, records `RollbackDetected`, and hands the Keeper no head (the evidence
/// stays) until an operator accepts the log's head, which is recorded too.
@Suite struct LogRollbackTests {
    static let superuser = "/spike/pilot/role/superuser"

    /// Waits until the Keeper holds a witnessed head at `sequence` or later.
    static func waitForWitness(_ harness: NexusHarness, atLeast sequence: UInt64, replacing old: LogWitness? = nil) async throws -> LogWitness {
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            if let head = harness.keeperService.witnessedHead, head.sequence >= sequence, head != old { return head }
            guard ContinuousClock.now < deadline else {
                Issue.record("the Keeper witnessed no head at \(sequence) or later: \(String(describing: harness.keeperService.witnessedHead))")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func anOlderCopyOfTheLogPutBackIsRefusedUntilAnOperatorAcceptsIt() async throws {
        var nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let admin = try nexus.client(Self.superuser)
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/db","values":{"password":"v1"}}"#).0 == 200)
            let copied = try #require(try nexus.node.log.head())
            _ = try await Self.waitForWitness(nexus, atLeast: copied.sequence)
            // The attacker's copy, taken while the Nexus runs (a consistent hot copy).
            let copy = nexus.directory + "-copy"
            defer { try? FileManager.default.removeItem(atPath: copy) }
            try #require(nexus.node.log as? EventLog).backup(to: copy)
            // Later: version 1 is destroyed for good (its key shredded), more is written: the
            // copy is behind what the Keeper witnesses even once a restart appended to it.
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/db","values":{"password":"v2"}}"#).0 == 200)
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=destroy", #"{"path":"apps/db","versions":[1]}"#).0 == 200)
            for other in 1...10 {
                #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/other-\#(other)","values":{"k":"v"}}"#).0 == 200)
            }
            let later = try #require(try nexus.node.log.head())
            _ = try await Self.waitForWitness(nexus, atLeast: later.sequence)
            await nexus.stopNexus()
            // Polls may have handed over a newer head before the stop: the Keeper holds the last.
            let witnessed = try #require(nexus.keeperService.witnessedHead)

            // The attack, from outside the code: the old data.mdb put back in place.
            let data = nexus.directory + "/data.mdb"
            try FileManager.default.removeItem(atPath: data)
            try FileManager.default.copyItem(atPath: copy + "/data.mdb", toPath: data)
            unlink(nexus.directory + "/lock.mdb")

            nexus = try await NexusHarness(continuing: nexus)
            try await nexus.waitUntilUnsealed()
            let status = nexus.node.status
            #expect(!status.ready)
            let reason = try #require(status.reason)
            #expect(reason.contains("log_rollback") && reason.contains("Keeper 1 witnessed \(witnessed.sequence)"), "\(reason)")
            // Nothing is served: not the destroyed version the copy brought back, not anything else.
            #expect(try await nexus.post(try nexus.client(Self.superuser), "/v1/store/secrets?action=get",
                                         #"{"path":"apps/db","version":1}"#) == (503, #"{"err":"state_not_ready"}"#))
            let readyz = try await nexus.client(Self.superuser).get(nexus.url, path: "/readyz")
            #expect(readyz.status.code == 503 && String(decoding: readyz.body, as: UTF8.self).contains("log_rollback"))
            // Recorded, with both heads.
            let detected = try #require(try nexus.events().compactMap { $0.payload as? RollbackDetected }.last)
            #expect(detected.finding == .behind && detected.keeper == 1 && detected.witnessedSequence == witnessed.sequence
                    && detected.witnessedLink == witnessed.linkHex && detected.logSequence < witnessed.sequence)
            // The Keeper keeps the evidence: polls go on, and no head replaces the witnessed one.
            try await Task.sleep(for: .milliseconds(600))
            #expect(nexus.keeperService.witnessedHead == witnessed)

            // A restart that accepts this log's head (a restore the operator meant) serves it,
            // records who accepted what, and the Keeper witnesses the accepted log from then on.
            await nexus.stopNexus()
            // What the operator reads with `spike log head`, the Nexus stopped.
            var readOnly = EventLog.Options()
            readOnly.readOnly = true
            let stopped = try EventLog.open(directory: nexus.directory, options: readOnly)
            let head = try #require(try stopped.head())
            stopped.close()
            nexus = try await NexusHarness(continuing: nexus, acceptLogHead: head.sequence)
            try await nexus.waitUntilServing()
            #expect(nexus.node.status.ready, "\(nexus.node.status)")
            let accepted = try #require(try nexus.events().compactMap { $0.payload as? LogHeadAccepted }.last)
            #expect(accepted.acceptedBy == "host:test-operator@test" && accepted.witnessedSequence == witnessed.sequence
                    && accepted.logSequence == head.sequence && accepted.logLink == head.hash.description)
            #expect(try await nexus.post(try nexus.client(Self.superuser), "/v1/store/secrets?action=get",
                                         #"{"path":"apps/db","version":1}"#) == (200, #"{"data":{"password":"v1"}}"#))
            // The head it witnesses next (not the evidence it kept, whose sequence may be past the
            // accepted head) is one of this log's: its link is the log's own at that sequence.
            let rewitnessed = try await Self.waitForWitness(nexus, atLeast: accepted.logSequence, replacing: witnessed)
            #expect(try nexus.node.log.link(at: rewitnessed.sequence).map { Data($0.bytes) } == rewitnessed.link)
        }
    }

    /// The control: a Nexus restarted on the log it wrote is served, and the head it reads back
    /// from its Keeper is its own.
    @Test func aRestartOnTheWitnessedLogIsServed() async throws {
        var nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            #expect(try await nexus.post(try nexus.client(Self.superuser), "/v1/store/secrets", #"{"path":"a","values":{"k":"v"}}"#).0 == 200)
            _ = try await Self.waitForWitness(nexus, atLeast: try #require(try nexus.node.log.head()).sequence)
            await nexus.stopNexus()
            nexus = try await NexusHarness(continuing: nexus)
            try await nexus.waitUntilServing()
            #expect(nexus.node.status.ready, "\(nexus.node.status)")
            #expect(try nexus.events().compactMap { $0.payload as? RollbackDetected }.isEmpty)
        }
    }

    /// A version key deleted from the key table without an event (what a raw LMDB edit does): the
    /// read is a 500 naming a damaged key table, not a 404 for a secret that is there, and the
    /// check `spike log verify` runs names the version.
    @Test func aVersionKeyGoneOutsideAnEventIsDamageNotA404() async throws {
        var nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let admin = try nexus.client(Self.superuser)
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/db","values":{"password":"v1"}}"#).0 == 200)
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/db","values":{"password":"v2"}}"#).0 == 200)
            let rootKey = try nexus.rootKey()
            await nexus.stopNexus()
            let key = try LogKeyFile.readPrivateKey(at: nexus.directory + "/audit-key.pem")
            let log = try EventLog.open(directory: nexus.directory)
            let data = try NexusProjections.replay(log, keyring: LogKeyring([key])).data
            let keyID = try #require(data.secrets["apps/db"]?.versions[1]?.keyID)
            // The key goes, explained by nothing that concerns it.
            log.setRecipients([LogRecipient(key.publicKey)], epoch: 1)
            _ = try await log.append([NewEvent(kind: AccessDenied.kind.number, body: DomainEvent(actor: "x", trail: "t",
                AccessDenied(operation: "secret.get", path: "x", wants: ["read"], at: 0)).encoded())], keyChanges: KeyTableChanges(deletes: [keyID]))
            let check = KeyTableCheck.check(data, keyTable: try log.keyTable(), dataKey: rootKey.dataKey(epoch: 1))
            #expect(check.checked == 2 && check.problems == [KeyTableCheck.Problem(path: "apps/db", version: 1, kind: .missing)])
            log.close()
            nexus = try await NexusHarness(continuing: nexus)
            try await nexus.waitUntilServing()
            let reader = try nexus.client(Self.superuser)
            #expect(try await nexus.post(reader, "/v1/store/secrets?action=get", #"{"path":"apps/db","version":1}"#)
                == (500, #"{"data":null,"err":"api_internal_error"}"#))
            #expect(try await nexus.post(reader, "/v1/store/secrets?action=get", #"{"path":"apps/db"}"#) == (200, #"{"data":{"password":"v2"}}"#))
        }
    }
}
