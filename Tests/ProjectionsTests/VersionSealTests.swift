import Crypto
import Foundation
@testable import Projections
import Testing

/// Version seals go through libcrypto (ADR-0021) in the box swift-crypto lays out, so the values
/// sealed before (every log written until then) open as they did, and a seal opens only with
/// everything it was bound to.
@Suite struct VersionSealTests {
    static let dataKey = DataKey(SymmetricKey(size: .bits256))

    // The bindings, as the format defines them (a value to its epoch, key id and path; a wrapped
    // key to its id): written out here so that a change of them fails this test.
    static func valueData(path: String, keyID: [UInt8], epoch: UInt32) -> [UInt8] {
        Array("spike secret v1".utf8) + withUnsafeBytes(of: epoch.bigEndian, Array.init) + [UInt8(keyID.count)] + keyID + Array(path.utf8)
    }

    static func keyData(_ keyID: [UInt8]) -> [UInt8] { Array("spike version key v1".utf8) + keyID }

    /// A value sealed by swift-crypto, as every Nexus did before: it opens.
    @Test func aValueSealedBySwiftCryptoOpens() throws {
        let keyID = VersionSeal.newKeyID()
        let versionKey = SymmetricKey(size: .bits256)
        let json = Array(#"{"password":"s3cr3t","user":"spike"}"#.utf8)
        let value = try AES.GCM.seal(json, using: versionKey, authenticating: Self.valueData(path: "apps/db", keyID: keyID, epoch: 3)).combined!
        let wrapped = try versionKey.withUnsafeBytes { try AES.GCM.seal($0, using: Self.dataKey.symmetricKey, authenticating: Self.keyData(keyID)).combined! }
        let opened = try VersionSeal.openJSON(value, wrappedKey: wrapped, keyID: keyID, path: "apps/db", version: 1, epoch: 3, dataKey: Self.dataKey)
        #expect(Array(opened) == json)
    }

    /// A seal made now opens with swift-crypto, under the same bindings: the same format.
    @Test func aSealOpensWithSwiftCrypto() throws {
        let sealed = try VersionSeal.seal(["user": "spike", "note": "a\"b"], path: "apps/db", epoch: 2, dataKey: Self.dataKey)
        let keyBytes = try AES.GCM.open(AES.GCM.SealedBox(combined: sealed.wrappedKey), using: Self.dataKey.symmetricKey,
                                        authenticating: Self.keyData(sealed.keyID))
        #expect(keyBytes.count == 32)
        let json = try AES.GCM.open(AES.GCM.SealedBox(combined: sealed.sealedValue), using: SymmetricKey(data: keyBytes),
                                    authenticating: Self.valueData(path: "apps/db", keyID: sealed.keyID, epoch: 2))
        #expect(String(decoding: json, as: UTF8.self) == #"{"note":"a\"b","user":"spike"}"#)
        // Each seal has a key and nonces of its own.
        let again = try VersionSeal.seal(["user": "spike", "note": "a\"b"], path: "apps/db", epoch: 2, dataKey: Self.dataKey)
        #expect(again.sealedValue.prefix(12) != sealed.sealedValue.prefix(12) && again.wrappedKey != sealed.wrappedKey)
        #expect(again.sealedValue.count == sealed.sealedValue.count && sealed.sealedValue.count == json.count + 28)
    }

    /// Everything a seal is bound to is checked: any other path, epoch, key id, data key, or one
    /// changed or missing byte, and the value does not open.
    @Test func aSealOpensOnlyWithWhatItWasBoundTo() throws {
        let sealed = try VersionSeal.seal(["k": "v"], path: "apps/db", epoch: 2, dataKey: Self.dataKey)
        func opens(_ value: [UInt8] = sealed.sealedValue, wrapped: [UInt8] = sealed.wrappedKey, keyID: [UInt8] = sealed.keyID,
                   path: String = "apps/db", epoch: UInt32 = 2, dataKey: DataKey = Self.dataKey) -> Bool {
            do {
                let json = try VersionSeal.openJSON(value, wrappedKey: wrapped, keyID: keyID, path: path, version: 4, epoch: epoch, dataKey: dataKey)
                return String(decoding: json, as: UTF8.self) == #"{"k":"v"}"#
            } catch {
                #expect(error == .sealedDataUnreadable("the value of \(path) version 4"))
                return false
            }
        }
        #expect(opens())
        #expect(!opens(path: "apps/dc"))
        #expect(!opens(epoch: 3))
        #expect(!opens(keyID: VersionSeal.newKeyID()))
        #expect(!opens(dataKey: DataKey(SymmetricKey(size: .bits256))))
        for index in [0, 12, sealed.sealedValue.count - 1] {
            var value = sealed.sealedValue
            value[index] ^= 0x01
            #expect(!opens(value))
        }
        var wrapped = sealed.wrappedKey
        wrapped[20] ^= 0x80
        #expect(!opens(wrapped: wrapped))
        #expect(!opens(Array(sealed.sealedValue.prefix(27))))
        #expect(!opens(wrapped: Array(sealed.wrappedKey.dropLast())))
        #expect(!opens(wrapped: []))
    }

    /// A rotation's rewrap: the value opens under the new data key, no longer under the old.
    @Test func aRewrappedKeyOpensUnderTheNewDataKeyOnly() throws {
        let next = DataKey(SymmetricKey(size: .bits256))
        let sealed = try VersionSeal.seal(["k": "v"], path: "a", epoch: 1, dataKey: Self.dataKey)
        let rewrapped = try VersionSeal.rewrap(sealed.wrappedKey, keyID: sealed.keyID, from: Self.dataKey, to: next)
        let json = try VersionSeal.openJSON(sealed.sealedValue, wrappedKey: rewrapped, keyID: sealed.keyID, path: "a", version: 1, epoch: 1, dataKey: next)
        #expect(String(decoding: json, as: UTF8.self) == #"{"k":"v"}"#)
        #expect(throws: KeyError.sealedDataUnreadable("the value of a version 1")) {
            try VersionSeal.openJSON(sealed.sealedValue, wrappedKey: rewrapped, keyID: sealed.keyID, path: "a", version: 1, epoch: 1, dataKey: Self.dataKey)
        }
        #expect(throws: KeyError.sealedDataUnreadable("a version key")) {
            try VersionSeal.rewrap(rewrapped, keyID: sealed.keyID, from: Self.dataKey, to: next)
        }
    }

    /// The box itself: an empty plaintext seals and opens, and a box that does not authenticate
    /// leaves nothing of what was decrypted behind.
    @Test func aBoxThatDoesNotAuthenticateLeavesNothingBehind() throws {
        let key = [UInt8](repeating: 7, count: 32), nonce = [UInt8](repeating: 9, count: 12)
        func seal(_ plaintext: UnsafeRawBufferPointer, _ aad: [UInt8]) -> [UInt8]? {
            key.withUnsafeBytes { k in nonce.withUnsafeBytes { AESGCMBox.seal(plaintext, key: .bytes(k), nonce: $0, authenticating: aad) } }
        }
        let empty = try #require(seal(UnsafeRawBufferPointer(start: nil, count: 0), [1]))
        #expect(empty.count == AESGCMBox.overhead)
        #expect(key.withUnsafeBytes { k in
            empty.withUnsafeBytes { AESGCMBox.open($0, key: .bytes(k), authenticating: [1], into: UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        })
        let secret = [UInt8](repeating: 0x41, count: 64)
        var box = try #require(secret.withUnsafeBytes { seal($0, [2]) })
        #expect(box.prefix(12) == nonce[...])
        // It is GCM's box: swift-crypto opens it.
        #expect(Array(try AES.GCM.open(AES.GCM.SealedBox(combined: box), using: SymmetricKey(data: key), authenticating: [2])) == secret)
        box[box.count - 1] ^= 1
        var out = [UInt8](repeating: 0xFF, count: 64)
        let opened = key.withUnsafeBytes { k in box.withUnsafeBytes { b in out.withUnsafeMutableBytes { AESGCMBox.open(b, key: .bytes(k), authenticating: [2], into: $0) } } }
        #expect(!opened && out == [UInt8](repeating: 0, count: 64))
    }

    /// A data key keeps its schedule in pooled contexts (each box sets only its nonce): its boxes
    /// are the ones a key's bytes make, a box that does not authenticate leaves its context fit
    /// for the next, and threads sealing and opening at once each get a context of their own.
    @Test func aDataKeysContextsServeManyBoxesAtOnce() async throws {
        let dataKey = DataKey(SymmetricKey(size: .bits256))
        let nonce = [UInt8](repeating: 3, count: 12), secret = [UInt8](repeating: 0x5A, count: 32)
        let box = try #require(secret.withUnsafeBytes { plaintext in
            nonce.withUnsafeBytes { nonce in dataKey.withContext { AESGCMBox.seal(plaintext, key: $0, nonce: nonce, authenticating: [7]) } }
        })
        let same = dataKey.symmetricKey.withUnsafeBytes { key in
            secret.withUnsafeBytes { plaintext in nonce.withUnsafeBytes { AESGCMBox.seal(plaintext, key: .bytes(key), nonce: $0, authenticating: [7]) } }
        }
        #expect(box == same)
        func open(_ box: [UInt8], _ aad: [UInt8]) -> [UInt8]? {
            var out = [UInt8](repeating: 0xFF, count: box.count - AESGCMBox.overhead)
            let opened = box.withUnsafeBytes { box in
                out.withUnsafeMutableBytes { out in dataKey.withContext { AESGCMBox.open(box, key: $0, authenticating: aad, into: out) } }
            }
            return opened == true ? out : nil
        }
        #expect(open(box, [8]) == nil)
        #expect(open(box, [7]) == secret)

        // Seals and opens of different values from many tasks at once, each checked.
        let failures = await withTaskGroup(of: Int.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var failures = 0
                    for round in 0..<500 {
                        let sealed = try? VersionSeal.seal(["task": "\(task)", "round": "\(round)"], path: "p/\(task)", epoch: 1, dataKey: dataKey)
                        let json = sealed.flatMap {
                            try? VersionSeal.openJSON($0.sealedValue, wrappedKey: $0.wrappedKey, keyID: $0.keyID, path: "p/\(task)", version: 1, epoch: 1, dataKey: dataKey)
                        }
                        if json.map({ String(decoding: $0, as: UTF8.self) }) != #"{"round":"\#(round)","task":"\#(task)"}"# { failures += 1 }
                    }
                    return failures
                }
            }
            return await group.reduce(0, +)
        }
        #expect(failures == 0)
    }
}
