import Crypto
import Foundation
import Projections
import SecretSharing
import Testing

/// The root key's derived material: the password wrap, the key check value, sealed shards,
/// and the genesis that carries them.
@Suite struct KeyTests {
    /// Version key ids sort by the time they were made (the key table's B-tree takes a batch's
    /// new keys in its last pages), are unique, and the value still opens with its own id only.
    @Test func versionKeyIDsSortByTimeAndAreUnique() throws {
        let dataKey = DataKey(SymmetricKey(size: .bits256))
        var sealed: [VersionSeal.Sealed] = []
        for index in 0..<200 {
            sealed.append(try VersionSeal.seal(["k": "v\(index)"], path: "apps/\(index)", epoch: 1, dataKey: dataKey))
            if index % 50 == 0 { Thread.sleep(forTimeInterval: 0.002) }
        }
        let ids = sealed.map(\.keyID)
        #expect(Set(ids).count == 200 && ids.allSatisfy { $0.count == 17 && $0.first == UInt8(ascii: "v") })
        // Made apart in time, they are in order (within one microsecond only the random half differs).
        #expect(ids[0].lexicographicallyPrecedes(ids[51]) && ids[51].lexicographicallyPrecedes(ids[101])
            && ids[101].lexicographicallyPrecedes(ids[151]) && ids[151].lexicographicallyPrecedes(ids[199]))
        let time = ids[199][1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(abs(Double(time) / 1e6 - Date().timeIntervalSince1970) < 60)
        let json = try VersionSeal.openJSON(sealed[7].sealedValue, wrappedKey: sealed[7].wrappedKey, keyID: sealed[7].keyID, path: "apps/7",
                                            version: 1, epoch: 1, dataKey: dataKey)
        #expect(String(decoding: json, as: UTF8.self) == #"{"k":"v7"}"#)
        #expect(throws: KeyError.sealedDataUnreadable("the value of apps/7 version 1")) {
            try VersionSeal.openJSON(sealed[7].sealedValue, wrappedKey: sealed[7].wrappedKey, keyID: sealed[8].keyID, path: "apps/7",
                                     version: 1, epoch: 1, dataKey: dataKey)
        }
    }

    @Test func passwordWrapOpensWithThePasswordOnly() throws {
        var generator = SystemRandomNumberGenerator()
        let key = RootKey.generate()
        let wrap = try PasswordWrap.wrap(key, password: "correct horse battery", admin: "admin", epoch: 1, cost: .testing, using: &generator)
        #expect(try wrap.unwrap(password: "correct horse battery", epoch: 1).copyBytes() == key.copyBytes())
        #expect(throws: KeyError.wrongPassword) { try wrap.unwrap(password: "correct horse battery!", epoch: 1) }
        #expect(throws: KeyError.wrongPassword) { try wrap.unwrap(password: "correct horse battery", epoch: 2) }
        #expect(throws: KeyError.weakPassword("it has 5 characters: it needs \(PasswordRule.statement)")) {
            try PasswordWrap.wrap(key, password: "short", admin: "admin", epoch: 1, cost: .testing, using: &generator)
        }
        #expect("\(key)" == "RootKey(redacted)")
        // A new root key wrapped for the same admin without the password: the password opens it,
        // and no longer the old one's wrap for the new epoch.
        let next = RootKey.generate()
        let moved = try wrap.resealed(next, epoch: 2)
        #expect(wrap.isResealable && moved.salt == wrap.salt && moved.sealed == wrap.sealed)
        #expect(try moved.unwrap(password: "correct horse battery", epoch: 2).copyBytes() == next.copyBytes())
        #expect(throws: KeyError.wrongPassword) { try moved.unwrap(password: "correct horse battery", epoch: 1) }
        #expect(throws: KeyError.wrongPassword) { try moved.unwrap(password: "wrong horse battery", epoch: 2) }
    }

    @Test func aWrongCombinationIsRefusedByTheKeyCheckValue() throws {
        var generator = SystemRandomNumberGenerator()
        let key = RootKey.generate()
        let shares = try key.split(threshold: 2, shares: 3, using: &generator)
        let check = key.keyCheckValue
        #expect(try RootKey.combine([shares[0], shares[2]], threshold: 2, keyCheckValue: check).copyBytes() == key.copyBytes())
        var wrong = shares[1]
        wrong.value[0] ^= 1
        #expect(throws: KeyError.keyCheckFailed) { try RootKey.combine([shares[0], wrong], threshold: 2, keyCheckValue: check) }
        #expect(throws: KeyError.shamir(.notEnoughShares(have: 1, need: 2))) {
            try RootKey.combine([shares[0]], threshold: 2, keyCheckValue: check)
        }
    }

    @Test func genesisSealsEverySecretAndRoundTrips() throws {
        var generator = SystemRandomNumberGenerator()
        let keepers = ["https://k1:8443", "https://k2:8443", "https://k3:8443"]
        let genesis = try EpochGenesis.create(epoch: 1, keepers: keepers, threshold: 2, password: "correct horse battery",
                                              admin: "spiffe://spike.ist/spike/pilot/role/superuser", cost: .testing, using: &generator)
        let event = DomainEvent(actor: "spiffe://spike.ist/spike/pilot/role/superuser", trail: "t1", genesis.event)
        let body = event.encoded()
        #expect(try DomainEvent.decode(kind: event.kind.number, body: body) == event)
        let root = genesis.rootKey.copyBytes()
        #expect(Data(body).range(of: Data(root)) == nil && !String(decoding: body, as: UTF8.self).contains(Data(root).base64EncodedString()))
        #expect(try genesis.event.epochPrivateKey(rootKey: genesis.rootKey).publicKey.rawRepresentation == genesis.event.epochPublicKey)
        #expect(try genesis.event.passwordWraps[0].unwrap(password: "correct horse battery", epoch: 1).copyBytes() == root)
        for distribution in genesis.distributions {
            let opened = try SealedShard.open(distribution.sealedShard, index: UInt8(distribution.keeper), rootKey: genesis.rootKey, epoch: 1)
            #expect(opened == genesis.shares[distribution.keeper])
            #expect(throws: KeyError.self) {
                try SealedShard.open(distribution.sealedShard, index: UInt8(distribution.keeper % 3 + 1), rootKey: genesis.rootKey, epoch: 1)
            }
        }
        #expect(throws: EventDecodingError.self) { try DomainEvent.decode(kind: EpochStarted.kind.number, body: Array("{}".utf8)) }
        #expect(try DomainEvent.decode(kind: 999, body: Array("{}".utf8)) == nil)
    }
}
