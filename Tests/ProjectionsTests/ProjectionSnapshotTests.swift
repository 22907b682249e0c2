import Crypto
import EventLog
import Foundation
import Projections
import Testing

/// `ProjectionSnapshot`: the data projection sealed under the snapshot key of R, exactly as
/// folded, and refused when anything about it is not what its maker sealed.
@Suite struct ProjectionSnapshotTests {
    static func event(_ payload: any EventPayload) -> DomainEvent {
        DomainEvent(actor: "spiffe://spike.ist/spike/pilot/role/superuser", trail: "t", payload)
    }

    /// A projection with every shape the fold makes: versions pruned, deleted, destroyed and
    /// undeleted, two policies (one replaced, one deleted), refusals counted.
    static func projection() -> DataProjection {
        var data = DataProjection()
        let events: [any EventPayload] = [
            SecretPut(path: "apps/db", version: 1, keyID: Data("v-1".utf8), sealedValue: Data([1, 2, 3]), maxVersions: 2, pruned: [], at: 10),
            SecretPut(path: "apps/db", version: 2, keyID: Data("v-2".utf8), sealedValue: Data([4, 5]), maxVersions: 2, pruned: [], at: 11, epoch: 1),
            SecretPut(path: "apps/db", version: 3, keyID: Data("v-3".utf8), sealedValue: Data([6]), maxVersions: 2, pruned: [1], at: 12, epoch: 1),
            SecretDeleted(path: "apps/db", versions: [3], at: 13),
            SecretPut(path: "apps/ü/ключ", version: 1, keyID: Data("v-4".utf8), sealedValue: Data(repeating: 7, count: 300), maxVersions: 10,
                      pruned: [], at: 14),
            SecretPut(path: "apps/ü/ключ", version: 2, keyID: Data("v-5".utf8), sealedValue: Data([8]), maxVersions: 10, pruned: [], at: 15),
            SecretDestroyed(path: "apps/ü/ключ", versions: [1], at: 16),
            SecretDeleted(path: "apps/ü/ключ", versions: [2], at: 17),
            SecretUndeleted(path: "apps/ü/ключ", versions: [2], at: 18),
            PolicyPut(name: "web", spiffeidPattern: "^spiffe://spike\\.ist/workload/web$", pathPattern: "^apps/web/", permissions: ["read"],
                      createdAt: 20, updatedAt: 20),
            PolicyPut(name: "web", spiffeidPattern: "^spiffe://spike\\.ist/workload/web$", pathPattern: "^apps/", permissions: ["read", "list"],
                      createdAt: 20, updatedAt: 21),
            PolicyPut(name: "gone", spiffeidPattern: ".*", pathPattern: ".*", permissions: ["super"], createdAt: 22, updatedAt: 22),
            PolicyDeleted(name: "gone", at: 23),
            AccessDenied(operation: "read", path: "apps/db", wants: ["read"], at: 24, count: 3, firstAt: 20),
        ]
        for payload in events { data.apply(event(payload)) }
        return data
    }

    static let header = ProjectionSnapshot.Header(epoch: 1, sequence: 42, link: ChainHash(bytes: Array(repeating: 9, count: 32))!, takenAt: 1_700_000_000_000)

    static func expectSame(_ a: DataProjection, _ b: DataProjection) {
        #expect(a.secrets == b.secrets)
        #expect(a.epoch == b.epoch && a.accessDenials == b.accessDenials)
        #expect(a.policies.keys.sorted() == b.policies.keys.sorted())
        for (name, policy) in a.policies {
            let other = b.policies[name]
            #expect(other?.spiffeidPattern == policy.spiffeidPattern && other?.pathPattern == policy.pathPattern
                && other?.permissions == policy.permissions && other?.createdAt == policy.createdAt && other?.updatedAt == policy.updatedAt)
        }
    }

    @Test func theProjectionComesBackAsFoldedAndItsPoliciesStillDecide() throws {
        let key = RootKey.generate().snapshotKey(epoch: 1)
        let data = Self.projection()
        #expect(data.secrets.count == 2 && data.policies.count == 1 && data.accessDenials == 3)
        for opened in [nil, UInt32(3)] {
            let stored = try ProjectionSnapshot(header: Self.header, data: data, openedByRotation: opened).sealed(with: key)
            #expect(try ProjectionSnapshot.Header(stored: stored) == Self.header)
            let back = try ProjectionSnapshot.open(stored, with: key)
            #expect(back.header == Self.header && back.openedByRotation == opened)
            Self.expectSame(back.data, data)
            // The policies are compiled again: they grant what they granted.
            #expect(back.data.allows(peer: "spiffe://spike.ist/workload/web", path: "apps/db", wants: [.list]))
            #expect(!back.data.allows(peer: "spiffe://spike.ist/workload/other", path: "apps/db", wants: [.read]))
            // Nothing of the projection is in clear: paths, names and values are sealed.
            let text = String(decoding: stored, as: UTF8.self)
            #expect(!text.contains("apps/db") && !text.contains("web"))
            #expect(stored.count > 64 + 12 + 16)
        }
        // The empty projection too (a snapshot of a fresh epoch).
        let empty = try ProjectionSnapshot(header: Self.header, data: DataProjection(), openedByRotation: nil).sealed(with: key)
        Self.expectSame(try ProjectionSnapshot.open(empty, with: key).data, DataProjection())
    }

    @Test func aSnapshotNotSealedUnderThisKeyOrChangedSinceDoesNotOpen() throws {
        let rootKey = RootKey.generate()
        let stored = try ProjectionSnapshot(header: Self.header, data: Self.projection(), openedByRotation: nil).sealed(with: rootKey.snapshotKey(epoch: 1))
        // Another root key, or the same root key's key of another epoch.
        #expect(throws: SnapshotError.doesNotOpen) { try ProjectionSnapshot.open(stored, with: RootKey.generate().snapshotKey(epoch: 1)) }
        #expect(throws: SnapshotError.doesNotOpen) { try ProjectionSnapshot.open(stored, with: rootKey.snapshotKey(epoch: 2)) }
        // The clear header is authenticated: a snapshot moved to another record does not open.
        var moved = stored
        moved[23] ^= 1  // the last byte of the sequence
        #expect(try ProjectionSnapshot.Header(stored: moved).sequence == 43)
        #expect(throws: SnapshotError.doesNotOpen) { try ProjectionSnapshot.open(moved, with: rootKey.snapshotKey(epoch: 1)) }
        var changed = stored
        changed[200] ^= 0x40
        #expect(throws: SnapshotError.doesNotOpen) { try ProjectionSnapshot.open(changed, with: rootKey.snapshotKey(epoch: 1)) }
        // Cut short, or not a snapshot at all.
        #expect(throws: SnapshotError.malformed("50 bytes, shorter than a header, a nonce and a tag")) {
            try ProjectionSnapshot.open(Array(stored.prefix(50)), with: rootKey.snapshotKey(epoch: 1))
        }
        #expect(throws: SnapshotError.doesNotOpen) { try ProjectionSnapshot.open(Array(stored.dropLast()), with: rootKey.snapshotKey(epoch: 1)) }
        var foreign = stored
        foreign[0] = UInt8(ascii: "X")
        #expect(throws: SnapshotError.malformed("not a snapshot (magic)")) { try ProjectionSnapshot.open(foreign, with: rootKey.snapshotKey(epoch: 1)) }
    }
}
