import Crypto
import Foundation

/// The body of a segment record: one fresh AES-256 segment key sealed with HPKE (RFC 9180, base
/// mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) to each recipient.
///
/// Layout: suite (u8 = 1), count (u16), then per recipient: id (32, SHA-256 of the raw public
/// key), encapsulated key (32), sealed segment key (48). The HPKE `info` binds each seal to the
/// log and the segment: "spike-log segment key v1" ‖ log id ‖ segment sequence (u64 BE); the
/// HPKE `aad` is empty.
struct SegmentEnvelope {
    static let suiteID: UInt8 = 1
    static let ciphersuite = HPKE.Ciphersuite(kem: .Curve25519_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .AES_GCM_256)
    static let entrySize = 32 + 32 + 48

    struct Entry {
        var recipientID: [UInt8]
        var encapsulatedKey: [UInt8]
        var sealedKey: [UInt8]
    }

    var entries: [Entry]

    static func info(logID: LogID, segment: UInt64) -> Data {
        var info = Data("spike-log segment key v1".utf8)
        info.append(contentsOf: logID.bytes)
        info.append(contentsOf: sequenceKey(segment))
        return info
    }

    static func seal(
        _ key: SymmetricKey, to recipients: [LogRecipient], logID: LogID, segment: UInt64
    ) throws -> SegmentEnvelope {
        let info = info(logID: logID, segment: segment)
        let entries = try recipients.map { recipient in
            var sender = try HPKE.Sender(recipientKey: recipient.publicKey, ciphersuite: ciphersuite, info: info)
            let sealed = try key.withUnsafeBytes { try sender.seal($0) }
            return Entry(recipientID: recipient.id, encapsulatedKey: Array(sender.encapsulatedKey), sealedKey: Array(sealed))
        }
        return SegmentEnvelope(entries: entries)
    }

    /// Opens the segment key with the first key of `keyring` that it was sealed to.
    func open(with keyring: LogKeyring, logID: LogID, segment: UInt64) throws(LogError) -> SymmetricKey {
        let info = Self.info(logID: logID, segment: segment)
        for privateKey in keyring.privateKeys {
            let id = LogRecipient.id(of: privateKey.publicKey)
            guard let entry = entries.first(where: { $0.recipientID == id }) else { continue }
            do {
                var recipient = try HPKE.Recipient(
                    privateKey: privateKey, ciphersuite: Self.ciphersuite, info: info,
                    encapsulatedKey: Data(entry.encapsulatedKey))
                var opened = try recipient.open(entry.sealedKey)
                defer { opened.resetBytes(in: 0..<opened.count) }
                return SymmetricKey(data: opened)
            } catch {
                throw .segmentKeyUnreadable(segment: segment, reason: "its sealed key fails authentication (altered record)")
            }
        }
        throw .noKeyForSegment(
            segment: segment,
            sealedTo: entries.map { $0.recipientID.hexString },
            offered: keyring.recipientIDs.map(\.hexString))
    }

    func encoded() -> [UInt8] {
        var out: [UInt8] = [Self.suiteID]
        out.append(UInt8(entries.count >> 8))
        out.append(UInt8(entries.count & 0xff))
        for entry in entries {
            out += entry.recipientID
            out += entry.encapsulatedKey
            out += entry.sealedKey
        }
        return out
    }

    static func decode(_ body: UnsafeRawBufferPointer) throws(RecordFormatError) -> SegmentEnvelope {
        guard body.count >= 3 else { throw .malformedSegmentBody("\(body.count)-byte body") }
        guard body[0] == suiteID else { throw .malformedSegmentBody("unknown key-sealing suite \(body[0])") }
        let count = Int(body[1]) << 8 | Int(body[2])
        guard body.count == 3 + count * entrySize else {
            throw .malformedSegmentBody("\(count) recipients need \(3 + count * entrySize) bytes, found \(body.count)")
        }
        var entries: [Entry] = []
        for index in 0..<count {
            let base = 3 + index * entrySize
            entries.append(Entry(
                recipientID: Array(body[base..<(base + 32)]),
                encapsulatedKey: Array(body[(base + 32)..<(base + 64)]),
                sealedKey: Array(body[(base + 64)..<(base + entrySize)])))
        }
        return SegmentEnvelope(entries: entries)
    }
}
