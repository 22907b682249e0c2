import CLibCrypto
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

    public static func seal(_ values: [String: String], path: String, epoch: UInt32, dataKey: DataKey) throws(KeyError) -> Sealed {
        var plaintext = CanonicalJSONWriter(capacity: CanonicalJSONWriter.objectSize(values))
        plaintext.object(values)
        defer { plaintext.wipe() }
        // One draw for the version key, the two nonces and the key id's random half.
        let sealed = withUnsafeTemporaryAllocation(byteCount: AESGCMBox.keySize + 2 * AESGCMBox.nonceSize + 8, alignment: 16) { random -> Sealed? in
            defer { OPENSSL_cleanse(random.baseAddress, random.count) }
            AESGCMBox.randomBytes(random)
            let bytes = UnsafeRawBufferPointer(random)
            let versionKey = UnsafeRawBufferPointer(rebasing: bytes[..<AESGCMBox.keySize])
            let valueNonce = UnsafeRawBufferPointer(rebasing: bytes[AESGCMBox.keySize..<(AESGCMBox.keySize + AESGCMBox.nonceSize)])
            let keyNonce = UnsafeRawBufferPointer(rebasing: bytes[(AESGCMBox.keySize + AESGCMBox.nonceSize)..<(AESGCMBox.keySize + 2 * AESGCMBox.nonceSize)])
            let keyID = newKeyID(random: bytes.loadUnaligned(fromByteOffset: AESGCMBox.keySize + 2 * AESGCMBox.nonceSize, as: UInt64.self))
            guard let value = plaintext.bytes.withUnsafeBytes({ plaintext in
                      withValueData(path: path, keyID: keyID, epoch: epoch) {
                          AESGCMBox.seal(plaintext, key: .bytes(versionKey), nonce: valueNonce, authenticating: $0)
                      }
                  }),
                  let wrapped = withKeyData(keyID, { aad in dataKey.withContext { AESGCMBox.seal(versionKey, key: $0, nonce: keyNonce, authenticating: aad) } }) else {
                return nil
            }
            return Sealed(keyID: keyID, wrappedKey: wrapped, sealedValue: value, epoch: epoch)
        }
        guard let sealed else { throw .sealedDataUnreadable("a value of \(path) could not be sealed") }
        return sealed
    }

    /// Opens a value as the JSON object it was sealed as (`{"key":"value",…}`, sorted keys): the
    /// read route answers it as is, with no decoding and encoding again. Fails when the key was
    /// shredded, or anything does not authenticate.
    public static func openJSON(_ sealedValue: some ContiguousBytes, wrappedKey: some ContiguousBytes, keyID: [UInt8],
                                path: String, version: Int, epoch: UInt32, dataKey: DataKey) throws(KeyError) -> [UInt8] {
        guard let count = sealedValue.withUnsafeBytes(openedCount) else { throw .sealedDataUnreadable("the value of \(path) version \(version)") }
        var failure: KeyError?
        let json = [UInt8](unsafeUninitializedCapacity: count) { json, initialized in
            // Wiped by the open when it fails: the bytes are initialized either way.
            do throws(KeyError) {
                try openJSON(sealedValue, wrappedKey: wrappedKey, keyID: keyID, path: path, version: version, epoch: epoch,
                             dataKey: dataKey, into: UnsafeMutableRawBufferPointer(json))
            } catch {
                failure = error
            }
            initialized = count
        }
        if let failure { throw failure }
        return json
    }

    /// The same, into `json`, which is `openedCount(of:)` bytes (the read route's response buffer,
    /// no array in between); wiped when the open fails.
    public static func openJSON(_ sealedValue: some ContiguousBytes, wrappedKey: some ContiguousBytes, keyID: [UInt8],
                                path: String, version: Int, epoch: UInt32, dataKey: DataKey,
                                into json: UnsafeMutableRawBufferPointer) throws(KeyError) {
        let opened = withVersionKey { versionKey -> Bool in
            guard unwrap(wrappedKey, keyID: keyID, with: dataKey, into: versionKey) else { return false }
            return sealedValue.withUnsafeBytes { box in
                withValueData(path: path, keyID: keyID, epoch: epoch) {
                    AESGCMBox.open(box, key: .bytes(UnsafeRawBufferPointer(versionKey)), authenticating: $0, into: json)
                }
            }
        }
        guard opened else {
            if json.count > 0 { OPENSSL_cleanse(json.baseAddress, json.count) }
            throw .sealedDataUnreadable("the value of \(path) version \(version)")
        }
    }

    /// How many bytes a sealed value opens to; nil when it is too short to be a box.
    public static func openedCount(of sealedValue: UnsafeRawBufferPointer) -> Int? {
        sealedValue.count >= AESGCMBox.overhead ? sealedValue.count - AESGCMBox.overhead : nil
    }

    /// A version key wrapped under `from` (the data key of the epoch a rotation closes), wrapped
    /// under `to` instead; the value it opens is untouched.
    public static func rewrap(_ wrappedKey: [UInt8], keyID: [UInt8], from: DataKey, to: DataKey) throws(KeyError) -> [UInt8] {
        let rewrapped = withVersionKey { versionKey -> [UInt8]? in
            guard unwrap(wrappedKey, keyID: keyID, with: from, into: versionKey) else { return nil }
            return withUnsafeTemporaryAllocation(byteCount: AESGCMBox.nonceSize, alignment: 1) { nonce in
                AESGCMBox.randomBytes(nonce)
                return withKeyData(keyID) { aad in
                    to.withContext { AESGCMBox.seal(UnsafeRawBufferPointer(versionKey), key: $0, nonce: UnsafeRawBufferPointer(nonce), authenticating: aad) }
                }
            }
        }
        guard let rewrapped else { throw .sealedDataUnreadable("a version key") }
        return rewrapped
    }

    /// Runs `body` with room for a version key, wiped afterwards.
    private static func withVersionKey<T>(_ body: (UnsafeMutableRawBufferPointer) -> T) -> T {
        withUnsafeTemporaryAllocation(byteCount: AESGCMBox.keySize, alignment: 16) { key in
            defer { OPENSSL_cleanse(key.baseAddress, key.count) }
            return body(key)
        }
    }

    /// Opens a wrapped version key into `key`.
    private static func unwrap(_ wrappedKey: some ContiguousBytes, keyID: [UInt8], with dataKey: DataKey, into key: UnsafeMutableRawBufferPointer) -> Bool {
        wrappedKey.withUnsafeBytes { box in
            box.count == AESGCMBox.keySize + AESGCMBox.overhead
                && withKeyData(keyID, { aad in dataKey.withContext { AESGCMBox.open(box, key: $0, authenticating: aad, into: key) } }) == true
        }
    }

    /// "v" ‖ u64 microseconds since the Unix epoch ‖ 8 random bytes: unique, and ordered by
    /// time, so that the key table's B-tree takes a batch of new keys in its last pages instead
    /// of one random page each (each page a write of the commit). The time says nothing the
    /// record's clear header does not.
    static func newKeyID(random: UInt64 = .random(in: .min ... .max)) -> [UInt8] {
        let micros = UInt64(max(0, Date().timeIntervalSince1970 * 1_000_000))
        return Array("v".utf8) + micros.bigEndianBytes + random.bigEndianBytes
    }

    /// Runs `body` with the data a value's box authenticates: the prefix ‖ epoch ‖ key id's length
    /// ‖ key id ‖ path (on the stack: a read opens a value, and this was one of its allocations).
    private static func withValueData<T>(path: String, keyID: [UInt8], epoch: UInt32, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        var path = path
        return path.withUTF8 { path in
            withAuthenticatedData(valuePrefix, count: 5 + keyID.count + path.count, body) { data in
                withUnsafeBytes(of: epoch.bigEndian) { data.append($0) }
                data.append(UInt8(keyID.count))
                keyID.withUnsafeBytes { data.append($0) }
                data.append(UnsafeRawBufferPointer(path))
            }
        }
    }

    /// The same for a wrapped version key: the prefix ‖ key id.
    private static func withKeyData<T>(_ keyID: [UInt8], _ body: (UnsafeRawBufferPointer) -> T) -> T {
        withAuthenticatedData(keyPrefix, count: keyID.count, body) { data in keyID.withUnsafeBytes { data.append($0) } }
    }

    /// `prefix` and `count` bytes more, which `fill` appends, in a temporary buffer for `body`.
    private static func withAuthenticatedData<T>(_ prefix: StaticString, count: Int, _ body: (UnsafeRawBufferPointer) -> T,
                                                 fill: (inout Appender) -> Void) -> T {
        withUnsafeTemporaryAllocation(byteCount: prefix.utf8CodeUnitCount + count, alignment: 1) { buffer in
            var data = Appender(buffer: buffer)
            data.append(UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
            fill(&data)
            precondition(data.count == buffer.count, "the authenticated data's size was miscounted")
            return body(UnsafeRawBufferPointer(buffer))
        }
    }

    /// Bytes appended into a buffer of the right size.
    private struct Appender {
        let buffer: UnsafeMutableRawBufferPointer
        private(set) var count = 0

        init(buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

        mutating func append(_ bytes: UnsafeRawBufferPointer) {
            UnsafeMutableRawBufferPointer(rebasing: buffer[count..<(count + bytes.count)]).copyMemory(from: bytes)
            count += bytes.count
        }

        mutating func append(_ byte: UInt8) {
            buffer[count] = byte
            count += 1
        }
    }

    private static let valuePrefix: StaticString = "spike secret v1"
    private static let keyPrefix: StaticString = "spike version key v1"
}
