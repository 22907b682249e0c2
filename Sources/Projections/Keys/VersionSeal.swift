import Crypto
import Foundation

/// How a secret version's value is sealed (DESIGN §4, inner layer): under a random version key
/// of its own, which is wrapped under the epoch's data key and kept in the log's key table.
/// Deleting that key (destroy, or pruning past `maxVersions`) erases the value for good while
/// the event that carries it stays in the append-only log. The value is bound to its path,
/// epoch and key id (one key per version); the wrapped key to its id. Sealing needs no version
/// number, so it runs in the request's task, in parallel, before the write is queued.
public enum VersionSeal {
    /// A sealed value with the key-table entry that opens it.
    public struct Sealed: Sendable {
        public var keyID: [UInt8]
        public var wrappedKey: [UInt8]
        public var sealedValue: [UInt8]
        /// The epoch whose data key wrapped the version key.
        public var epoch: UInt32
    }

    public static func seal(_ values: [String: String], path: String, epoch: UInt32, dataKey: SymmetricKey) throws(KeyError) -> Sealed {
        let keyID = newKeyID()
        let versionKey = SymmetricKey(size: .bits256)
        do {
            var plaintext = CanonicalJSONWriter(capacity: values.reduce(2) { $0 + $1.key.utf8.count + $1.value.utf8.count + 6 })
            plaintext.object(values)
            defer { plaintext.wipe() }
            let sealedValue = try AES.GCM.seal(plaintext.bytes, using: versionKey,
                                               authenticating: valueData(path: path, keyID: keyID, epoch: epoch)).combined!
            let wrappedKey = try versionKey.withUnsafeBytes { key in
                try AES.GCM.seal(key, using: dataKey, authenticating: keyData(keyID)).combined!
            }
            return Sealed(keyID: keyID, wrappedKey: Array(wrappedKey), sealedValue: Array(sealedValue), epoch: epoch)
        } catch {
            throw .sealedDataUnreadable("a value of \(path) could not be sealed")
        }
    }

    /// Opens a value as the JSON object it was sealed as (`{"key":"value",…}`, sorted keys): the
    /// read route answers it as is, with no decoding and encoding again. Fails when the key was
    /// shredded, or anything does not authenticate.
    public static func openJSON(_ sealedValue: some DataProtocol, wrappedKey: some DataProtocol, keyID: [UInt8],
                                path: String, version: Int, epoch: UInt32, dataKey: SymmetricKey) throws(KeyError) -> Data {
        do {
            let keyBytes = try AES.GCM.open(AES.GCM.SealedBox(combined: wrappedKey), using: dataKey, authenticating: keyData(keyID))
            let versionKey = SymmetricKey(data: keyBytes)
            return try AES.GCM.open(AES.GCM.SealedBox(combined: sealedValue), using: versionKey,
                                    authenticating: valueData(path: path, keyID: keyID, epoch: epoch))
        } catch {
            throw .sealedDataUnreadable("the value of \(path) version \(version)")
        }
    }

    /// A version key wrapped under `from` (the data key of the epoch a rotation closes), wrapped
    /// under `to` instead; the value it opens is untouched.
    public static func rewrap(_ wrappedKey: [UInt8], keyID: [UInt8], from: SymmetricKey, to: SymmetricKey) throws(KeyError) -> [UInt8] {
        do {
            var key = Array(try AES.GCM.open(AES.GCM.SealedBox(combined: wrappedKey), using: from, authenticating: keyData(keyID)))
            defer { _ = key.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
            return Array(try AES.GCM.seal(key, using: to, authenticating: keyData(keyID)).combined!)
        } catch {
            throw .sealedDataUnreadable("a version key")
        }
    }

    /// "v" ‖ u64 microseconds since the Unix epoch ‖ 8 random bytes: unique, and ordered by
    /// time, so that the key table's B-tree takes a batch of new keys in its last pages instead
    /// of one random page each (each page a write of the commit). The time says nothing the
    /// record's clear header does not.
    static func newKeyID() -> [UInt8] {
        let micros = UInt64(max(0, Date().timeIntervalSince1970 * 1_000_000))
        return Array("v".utf8) + micros.bigEndianBytes + UInt64.random(in: .min ... .max).bigEndianBytes
    }

    private static func valueData(path: String, keyID: [UInt8], epoch: UInt32) -> [UInt8] {
        Array("spike secret v1".utf8) + epoch.bigEndianBytes + UInt8(keyID.count).bigEndianBytes + keyID + Array(path.utf8)
    }

    private static func keyData(_ keyID: [UInt8]) -> [UInt8] {
        Array("spike version key v1".utf8) + keyID
    }
}
