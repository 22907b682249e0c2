import Crypto
import EventLog
import Foundation
import NIOHTTP1
import Nodes
import Projections
import SpikeAPI
import SpikeClient
import Testing

/// An intruder with the Nexus' data directory (the log and the host audit key, not the root
/// key) writes a policy granting itself every secret, the way such an intruder would: it reads
/// the genesis with the audit key, seals a segment to the epoch's public key and appends a
/// `PolicyPut` through the log library. The restarted Nexus must not serve it.
@Suite(.serialized) struct LogForgeryTests {
    static let superuser = "/spike/pilot/role/superuser"
    static let backdoor = PolicyPut(name: "backdoor", spiffeidPattern: "^spiffe://spike\\.ist/workload/intruder$", pathPattern: ".*",
                                    permissions: ["read", "list"], createdAt: 1, updatedAt: 1)

    /// Appends `payload` as the intruder, authenticated under `key` if one is given (a guess:
    /// the intruder does not have the root key). Returns its sequence.
    static func appendAsIntruder(_ payload: any EventPayload, directory: String, authenticationKey: SymmetricKey?) async throws -> UInt64 {
        let auditKey = try LogKeyFile.readPrivateKey(at: directory + "/audit-key.pem")
        let log = try EventLog.open(directory: directory)
        defer { log.close() }
        let genesis = try #require(try NexusProjections.replay(log, keyring: LogKeyring([auditKey])).lifecycle.genesis)
        log.setRecipients([LogRecipient(auditKey.publicKey), LogRecipient(try genesis.logRecipientKey())], epoch: genesis.epoch)
        let event = DomainEvent(actor: "spiffe://spike.ist" + superuser, trail: "intruder", payload)
        return try await log.append([NewEvent(kind: event.kind.number, body: event.encoded(), authenticationKey: authenticationKey)]).lowerBound
    }

    /// A system with one secret, its Nexus stopped, ready for the intruder.
    static func stoppedSystem() async throws -> NexusHarness {
        let nexus = try await NexusHarness()
        try await nexus.initialize()
        #expect(try await nexus.post(try nexus.client(superuser), "/v1/store/secrets", #"{"path":"apps/db","values":{"password":"s3cr3t"}}"#).0 == 200)
        await nexus.stopNexus()
        return nexus
    }

    @Test func whileTheNexusRunsTheIntruderCannotEvenOpenTheLogForWriting() async throws {
        let nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            await #expect {
                try await Self.appendAsIntruder(Self.backdoor, directory: nexus.directory, authenticationKey: nil)
            } throws: { error in
                if case LogError.writerLocked = error { true } else { false }
            }
        }
    }

    @Test func aPolicyAppendedWithoutAnAuthenticatorStopsTheNexusFromStarting() async throws {
        let first = try await Self.stoppedSystem()
        try await awaitingCleanup({ await first.stop() }) {
            let forged = try await Self.appendAsIntruder(Self.backdoor, directory: first.directory, authenticationKey: nil)
            await #expect(throws: ReplayError.unauthenticated(sequence: forged, kind: "PolicyPut")) {
                _ = try await NexusHarness(continuing: first)
            }
        }
    }

    @Test func aPolicyWithAForgedAuthenticatorIsRefusedOnceTheRootKeyIsBack() async throws {
        let first = try await Self.stoppedSystem()
        let forged = try await Self.appendAsIntruder(Self.backdoor, directory: first.directory,
                                                     authenticationKey: RootKey.generate().eventAuthenticationKey(epoch: 1))
        let restarted = try await NexusHarness(continuing: first)
        try await awaitingCleanup({ await restarted.stop() }) {
            // The Keeper still holds its share: the root key comes back, and with it the check.
            try await restarted.waitUntilUnsealed()
            let status = restarted.node.status
            #expect(!status.ready)
            #expect(status.reason == "refused: \(ReplayError.forged(sequence: forged, kind: "PolicyPut"))")
            // Nothing is served: not the intruder's read, not the superuser's.
            let intruder = try restarted.client("/workload/intruder")
            #expect(try await restarted.post(intruder, "/v1/store/secrets?action=get", #"{"path":"apps/db"}"#) == (503, #"{"err":"state_not_ready"}"#))
            #expect(try await restarted.post(try restarted.client(Self.superuser), "/v1/store/secrets?action=get", #"{"path":"apps/db"}"#).0 == 503)
            #expect(try await restarted.client("/spike/pilot/role/superuser").get(restarted.url, path: "/readyz").status.code == 503)
        }
    }

    /// The control: the same restart without the intruder serves the data, policies included.
    @Test func aRestartedNexusServesWhatItWroteItself() async throws {
        let first = try await NexusHarness()
        try await first.initialize()
        let admin = try first.client(Self.superuser)
        #expect(try await first.post(admin, "/v1/store/secrets", #"{"path":"apps/web/db","values":{"k":"v"}}"#).0 == 200)
        #expect(try await first.post(admin, "/v1/acl/policy", #"{"name":"web","spiffeidPattern":"^spiffe://spike\\.ist/workload/web$","pathPattern":"^apps/web/","permissions":["read"]}"#).0 == 200)
        await first.stopNexus()
        let restarted = try await NexusHarness(continuing: first)
        try await awaitingCleanup({ await restarted.stop() }) {
            try await restarted.waitUntilUnsealed()
            #expect(restarted.node.status.ready)
            let web = try restarted.client("/workload/web")
            #expect(try await restarted.post(web, "/v1/store/secrets?action=get", #"{"path":"apps/web/db"}"#) == (200, #"{"data":{"k":"v"}}"#))
        }
    }
}
