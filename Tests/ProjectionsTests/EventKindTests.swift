import Crypto
import EventLog
import Foundation
import Projections
import Testing

/// The vocabulary: explicit numbers and names, one registry, and what a reader does with a kind
/// it does not know.
@Suite struct EventKindTests {
    /// The names exports and users' scripts key on, pinned: renaming a Swift type must not
    /// change one, and neither may a renumbering.
    @Test func kindsAreTheDesignsVocabularyWithStableNumbers() {
        let expected: [(UInt16, String, EventEffect, Bool)] = [
            (2, "EpochStarted", .changesState, false), (3, "NexusStarted", .changesState, false),
            (4, "NexusStopped", .changesState, false), (5, "RootKeyRestored", .changesState, false),
            (6, "RootKeyRestoreFailed", .changesState, false), (7, "AdminPasswordAdded", .changesState, false),
            (8, "AdminPasswordChanged", .changesState, false), (9, "SystemReset", .changesState, false),
            (10, "AdminPasswordRemoved", .changesState, false), (11, "RecoveryShardsExported", .changesState, false),
            (12, "RootKeyRotated", .changesState, false), (13, "RootKeyRotationCompleted", .changesState, false),
            (20, "ShardDistributed", .changesState, false), (21, "KeeperPolled", .informational, false),
            (22, "KeeperRehydrated", .changesState, false),
            (40, "SecretPut", .changesState, true), (41, "SecretDeleted", .changesState, true),
            (42, "SecretUndeleted", .changesState, true), (43, "SecretDestroyed", .changesState, true),
            (44, "PolicyPut", .changesState, true), (45, "PolicyDeleted", .changesState, true),
            (46, "AccessDenied", .informational, false),
            (0x8000, "RollbackDetected", .informational, false), (0x8001, "LogHeadAccepted", .informational, false),
        ]
        let kinds = EventVocabulary.kinds
        #expect(kinds.count == expected.count)
        for (number, name, effect, authenticated) in expected {
            let kind = EventVocabulary.kind(number: number)
            #expect(kind?.name == name && kind?.effect == effect && kind?.authenticated == authenticated, "kind \(number)")
        }
        #expect(Set(kinds.map(\.number)).count == kinds.count && Set(kinds.map(\.name)).count == kinds.count)
    }

    @Test func anUnknownKindIsRefusedUnlessItsNumberSaysInformational() {
        #expect(EventVocabulary.name(of: 9999) == "Kind9999")
        #expect(EventKind.effect(ofNumber: 9999) == .changesState)
        #expect(EventKind.effect(ofNumber: 47) == .changesState)  // reserved
        #expect(EventKind.effect(ofNumber: 0x8FFF) == .informational && EventVocabulary.kind(number: 0x8FFF) == nil)
        #expect(EventKind.effect(ofNumber: KeeperPolled.kind.number) == .informational)
    }

    @Test func everyRegisteredKindRoundTripsThroughItsBody() throws {
        let samples: [any EventPayload] = [
            NexusStarted(instance: "i", version: "v", previousStartCrashed: 3), NexusStopped(instance: "i", reason: "r"),
            RootKeyRestored(source: .keepers, shareIndices: [1, 2]),
            RootKeyRestoreFailed(source: .password, shareIndices: [], reason: "wrong"), SystemReset(epoch: 2, reason: "lost"),
            AdminPasswordAdded(epoch: 1, wrap: PasswordWrap(admin: "alice", salt: Data([1]), cost: .testing, sealed: Data([2]),
                                                            publicKey: Data([3]), sealedRootKey: Data([4]), at: 5)),
            AdminPasswordChanged(epoch: 1, wrap: PasswordWrap(admin: "alice", salt: Data([1]), cost: .testing, sealed: Data([2]))),
            AdminPasswordRemoved(epoch: 1, admin: "alice", at: 6), RecoveryShardsExported(epoch: 1, shareIndices: [1, 2, 3], at: 7),
            RollbackDetected(finding: .behind, keeper: 2, logSequence: 10, logLink: "ab", witnessedSequence: 12, witnessedLink: "cd", at: 8),
            LogHeadAccepted(logSequence: 10, logLink: "ab", witnessedSequence: 12, witnessedLink: "cd", acceptedBy: "host:op@h", at: 9),
            RootKeyRotated(fromEpoch: 1, next: EpochStarted(epoch: 2, shares: 3, threshold: 2, keepers: ["https://k"], epochPublicKey: Data([1]),
                                                            wrappedEpochPrivateKey: Data([2]), passwordWraps: [], keyCheckValue: Data([3])),
                           previousKeyCheckValue: Data([4]), previousKeys: Data([5]), link: Data([6]), at: 7),
            RootKeyRotationCompleted(epoch: 2, link: [6], at: 8),
            ShardDistributed(epoch: 1, keeper: 1, keeperURL: "https://k", sealedShard: Data([1, 2])),
            KeeperPolled(keeper: 1, outcome: .empty, count: 3, firstAt: 1, lastAt: 2, maxLatencyMillis: 4),
            KeeperRehydrated(keeper: 2, distribution: 9, reason: .empty),
            SecretPut(path: "a", version: 1, keyID: Data([1]), sealedValue: Data([2]), maxVersions: 10, pruned: [], at: 5, epoch: 2),
            SecretDeleted(path: "a", versions: [1], at: 6), SecretUndeleted(path: "a", versions: [1], at: 7),
            SecretDestroyed(path: "a", versions: [1], at: 8),
            PolicyPut(name: "p", spiffeidPattern: "x", pathPattern: "y", permissions: ["read"], createdAt: 1, updatedAt: 2),
            PolicyDeleted(name: "p", at: 3), AccessDenied(operation: "secret.get", path: "a", wants: ["read"], at: 4),
        ]
        for payload in samples {
            let event = DomainEvent(actor: "spiffe://spike.ist/x", trail: "t", payload)
            let decoded = try #require(try DomainEvent.decode(kind: event.kind.number, body: event.encoded()))
            #expect(decoded == event && decoded.kind == event.kind, "\(event.kind)")
        }
        // The three version changes share a body but are three kinds, not one.
        let deleted = DomainEvent(actor: "a", trail: "t", SecretDeleted(path: "a", versions: [1], at: 6))
        let asUndeleted = try #require(try DomainEvent.decode(kind: SecretUndeleted.kind.number, body: deleted.encoded()))
        #expect(asUndeleted != deleted && asUndeleted.payload is SecretUndeleted)
        #expect(Set(samples.map { type(of: $0).kind.number }).count == EventVocabulary.kinds.count - 1)  // all but EpochStarted
    }

    /// A reset closes the epoch: the lifecycle is uninitialized and the data empty, the history
    /// stays, and the next genesis opens a new epoch number.
    @Test func systemResetClosesTheEpoch() throws {
        var projections = NexusProjections()
        var generator = SystemRandomNumberGenerator()
        let genesis = try EpochGenesis.create(epoch: 1, keepers: ["https://k1"], threshold: 1, password: "correct horse battery",
                                              admin: "admin", cost: .testing, using: &generator)
        let admin = "spiffe://spike.ist/spike/pilot/role/superuser"
        let events: [any EventPayload] = [
            genesis.event,
            PolicyPut(name: "p", spiffeidPattern: ".*", pathPattern: ".*", permissions: ["read"], createdAt: 1, updatedAt: 1),
            SystemReset(epoch: 1, reason: "root key lost"),
        ]
        for (offset, payload) in events.enumerated() {
            let event = DomainEvent(actor: admin, trail: "t", payload)
            let authenticator: EventAuthenticator? = event.kind.authenticated ? EventAuthenticator(digest: .zero, tag: .zero) : nil
            try projections.apply(event, sequence: UInt64(offset + 1), epoch: 1, authenticator: authenticator)
        }
        #expect(!projections.lifecycle.isInitialized && projections.lifecycle.resets == 1)
        #expect(projections.lifecycle.nextEpoch == 2)
        #expect(projections.data.policies.isEmpty && projections.unverified.count == 0)
    }

    /// A rotation opens a new epoch and carries the data over; a data record of the old epoch
    /// after it is refused (no Nexus writes one: it is someone's who holds an old key).
    @Test func aRotationCarriesTheDataIntoTheNewEpoch() throws {
        var projections = NexusProjections()
        var generator = SystemRandomNumberGenerator()
        let genesis = try EpochGenesis.create(epoch: 1, keepers: ["https://k1"], threshold: 1, password: "correct horse battery",
                                              admin: "admin", cost: .testing, using: &generator)
        let rotation = try RootKeyRotation.create(from: genesis.rootKey, current: genesis.event, currentRotation: nil, epoch: 2, at: 9,
                                                  using: &generator)
        let admin = "spiffe://spike.ist/spike/pilot/role/superuser"
        let tag = EventAuthenticator(digest: .zero, tag: .zero)
        let put = SecretPut(path: "a", version: 1, keyID: Data([1]), sealedValue: Data([2]), maxVersions: 10, pruned: [], at: 5)
        let steps: [(any EventPayload, UInt32)] = [(genesis.event, 1), (put, 1), (rotation.event, 1), (rotation.distributions[0], 2)]
        for (offset, (payload, epoch)) in steps.enumerated() {
            let event = DomainEvent(actor: admin, trail: "t", payload)
            try projections.apply(event, sequence: UInt64(offset + 1), epoch: epoch, authenticator: event.kind.authenticated ? tag : nil)
        }
        #expect(projections.lifecycle.epoch == 2 && projections.lifecycle.rotation?.fromEpoch == 1)
        #expect(projections.lifecycle.pendingRotationLink == Array(rotation.event.link))
        #expect(projections.lifecycle.genesis?.keyCheckValue == Data(rotation.rootKey.keyCheckValue))
        let moved = try #require(projections.lifecycle.passwordWraps.first)
        #expect(projections.lifecycle.passwordWraps.count == 1)
        #expect(try moved.unwrap(password: "correct horse battery", epoch: 2).copyBytes() == rotation.rootKey.copyBytes())
        #expect(projections.data.epoch == 2 && projections.data.secrets["a"]?.versions[1]?.epoch == 1, "the data carried over, sealed for epoch 1")
        #expect(projections.unverified.count == 1, "epoch 1's records are still checked, with its carried-over key")
        let late = DomainEvent(actor: admin, trail: "t", put)
        #expect(throws: ReplayError.staleEpoch(sequence: 5, kind: "SecretPut", epoch: 1, current: 2)) {
            try projections.apply(late, sequence: 5, epoch: 1, authenticator: tag)
        }
        // The previous keys open with the new root key: epoch 1's authenticator key among them.
        let previous = try PreviousKeys.open(rotation.event.previousKeys, rootKey: rotation.rootKey, epoch: 2)
        #expect(previous.keys[1]?.eventAuthentication == genesis.rootKey.eventAuthenticationKey(epoch: 1).withUnsafeBytes { Data($0) })
        let completed = DomainEvent(actor: admin, trail: "t", RootKeyRotationCompleted(epoch: 2, link: Array(rotation.event.link), at: 10))
        try projections.apply(completed, sequence: 6, epoch: 2, authenticator: nil)
        #expect(projections.lifecycle.pendingRotationLink == nil)
    }
}
