import Crypto
import EventLog
import Foundation
import Projections
import Testing

/// `NexusProjections.replay` over real logs: what it folds, skips and refuses.
@Suite struct ReplayTests {
    final class Log {
        let directory = NSTemporaryDirectory() + "spike-replay-\(UUID().uuidString)"
        let key = Curve25519.KeyAgreement.PrivateKey()
        let log: EventLog

        init() throws {
            log = try EventLog.open(directory: directory)
            log.setRecipients([LogRecipient(key.publicKey)], epoch: 1)
        }

        deinit {
            log.close()
            try? FileManager.default.removeItem(atPath: directory)
        }

        @discardableResult
        func append(_ payload: any EventPayload, key: SymmetricKey? = nil, actor: String = "spiffe://spike.ist/spike/nexus",
                    trail: String = "t") async throws -> UInt64 {
            let event = DomainEvent(actor: actor, trail: trail, payload)
            return try await log.append([NewEvent(kind: event.kind.number, body: event.encoded(), authenticationKey: key)]).lowerBound
        }

        func replay(foldingData: Bool = true) throws -> NexusProjections {
            try NexusProjections.replay(log, keyring: LogKeyring([key]), foldingData: foldingData)
        }
    }

    static let policy = PolicyPut(name: "p", spiffeidPattern: "^spiffe://spike\\.ist/workload/web$", pathPattern: "^apps/web/",
                                  permissions: ["read"], createdAt: 1, updatedAt: 1)

    @Test func anUnknownKindThatChangesStateIsRefusedAndNamed() async throws {
        let log = try Log()
        try await log.append(NexusStarted(instance: "i", version: "v", previousStartCrashed: nil))
        let unknown = try await log.log.append(kind: 300, body: Array(#"{"actor":"a","trail":"t","data":{}}"#.utf8))
        #expect(throws: ReplayError.unknownKind(sequence: unknown, kind: 300)) { try log.replay() }
        #expect("\(ReplayError.unknownKind(sequence: unknown, kind: 300))".contains("written by a newer spike"))
    }

    @Test func anUnknownInformationalKindIsSkippedAndCounted() async throws {
        let log = try Log()
        try await log.log.append(kind: 0x8002, body: Array("anything a newer writer observed".utf8))
        try await log.append(NexusStarted(instance: "i", version: "v", previousStartCrashed: nil))
        let projections = try log.replay()
        #expect(projections.skippedInformational == 1 && projections.lifecycle.starts == 1)
    }

    @Test func aDataEventWithoutAnAuthenticatorIsRefused() async throws {
        let log = try Log()
        let forged = try await log.append(Self.policy)
        #expect(throws: ReplayError.unauthenticated(sequence: forged, kind: "PolicyPut")) { try log.replay() }
    }

    /// A Nexus' start folds the lifecycle alone: data records are neither decoded nor their
    /// authenticators digested, but one that lacks its authenticator is refused all the same.
    @Test func aStartWithoutTheDataStillRefusesADataEventWithoutAnAuthenticator() async throws {
        let log = try Log()
        try await log.append(Self.policy, key: RootKey.generate().eventAuthenticationKey(epoch: 1))
        let started = try log.replay(foldingData: false)
        #expect(started.unverified.count == 0 && started.data.policies.isEmpty)
        let forged = try await log.append(PolicyDeleted(name: "p", at: 2))
        #expect(throws: ReplayError.unauthenticated(sequence: forged, kind: "PolicyDeleted")) { try log.replay(foldingData: false) }
    }

    @Test func authenticatorsAreCheckedUnderTheRootKeyOfTheirEpoch() async throws {
        let log = try Log()
        let rootKey = RootKey.generate()
        try await log.append(Self.policy, key: rootKey.eventAuthenticationKey(epoch: 1))
        let forged = try await log.append(PolicyDeleted(name: "p", at: 2), key: RootKey.generate().eventAuthenticationKey(epoch: 1))
        let projections = try log.replay()
        #expect(projections.unverified.count == 2)
        #expect(throws: ReplayError.forged(sequence: forged, kind: "PolicyDeleted")) { try projections.unverified.authenticate(with: rootKey, epoch: 1) }
        // The same key for another epoch is another key.
        let other = try Log()
        try await other.append(Self.policy, key: rootKey.eventAuthenticationKey(epoch: 2))
        #expect(throws: ReplayError.forged(sequence: 2, kind: "PolicyPut")) { try other.replay().unverified.authenticate(with: rootKey, epoch: 1) }
        // Authentic events pass.
        let clean = try Log()
        try await clean.append(Self.policy, key: rootKey.eventAuthenticationKey(epoch: 1))
        let folded = try clean.replay()
        try folded.unverified.authenticate(with: rootKey, epoch: 1)
        #expect(folded.data.policies["p"] != nil)
    }
}
