import Crypto
import Foundation
import Testing
@testable import EventLog

@Suite struct FormatTests {
    @Test func headerRoundTripsByteForByte() throws {
        var bytes = [UInt8](repeating: 0, count: 100)
        for index in bytes.indices { bytes[index] = UInt8(index) }
        let previous = bytes.withUnsafeBytes { ChainHash(UnsafeRawBufferPointer(rebasing: $0[0..<32])) }
        let header = RecordHeader(type: .event, kind: 0x0102, epoch: 0x03040506, sequence: 0x0708090a0b0c0d0e,
                                  time: 0x1112131415161718, segment: 0x2122232425262728, previousHash: previous, bodyLength: 32)
        var record = [UInt8](repeating: 0xee, count: RecordHeader.size + 32)
        record.withUnsafeMutableBytes { header.encode(into: $0) }
        // The documented layout (docs/log-format.md).
        #expect(Array(record[0..<4]) == [1, 2, 0x01, 0x02])
        #expect(Array(record[4..<8]) == [3, 4, 5, 6])
        #expect(Array(record[8..<16]) == [7, 8, 9, 10, 11, 12, 13, 14])
        #expect(Array(record[32..<64]) == Array(0..<32))
        #expect(Array(record[64..<68]) == [0, 0, 0, 32])
        let decoded = try record.withUnsafeBytes { try RecordHeader.decode(record: $0) }
        #expect(decoded == header)
    }

    @Test func bodyLengthMismatchIsRefused() throws {
        var record = [UInt8](repeating: 0, count: RecordHeader.size + 5)
        record[0] = 1
        record[1] = 2
        record[67] = 6
        #expect(throws: RecordFormatError.bodyLengthMismatch(declared: 6, actual: 5)) {
            try record.withUnsafeBytes { try RecordHeader.decode(record: $0) }
        }
        record[1] = 7
        #expect(throws: RecordFormatError.unknownRecordType(7)) {
            try record.withUnsafeBytes { try RecordHeader.decode(record: $0) }
        }
    }

    @Test func malformedSegmentBodiesAreRefused() throws {
        for body: [UInt8] in [[], [1], [2, 0, 0], [1, 0, 1, 0, 0]] {
            #expect(throws: RecordFormatError.self) {
                try body.withUnsafeBytes { try SegmentEnvelope.decode($0) }
            }
        }
    }

    @Test func segmentEnvelopeOpensOnlyForItsRecipientsLogAndSegment() throws {
        let key = SymmetricKey(size: .bits256)
        let recipient = Curve25519.KeyAgreement.PrivateKey()
        let logID = LogID.random()
        let envelope = try SegmentEnvelope.seal(key, to: [LogRecipient(recipient.publicKey)], logID: logID, segment: 7)
        let decoded = try envelope.encoded().withUnsafeBytes { try SegmentEnvelope.decode($0) }
        let opened = try decoded.open(with: LogKeyring([recipient]), logID: logID, segment: 7)
        #expect(opened == key)
        // Moved to another segment or log, the seal does not open.
        #expect(throws: LogError.self) { try decoded.open(with: LogKeyring([recipient]), logID: logID, segment: 8) }
        #expect(throws: LogError.self) { try decoded.open(with: LogKeyring([recipient]), logID: .random(), segment: 7) }
    }

    @Test func keyFilesRoundTripAndRejectGarbage() throws {
        let dir = TemporaryDirectory()
        let path = dir.sub("k.pem")
        let key = try LogKeyFile.create(at: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try LogKeyFile.readPrivateKey(at: path).rawRepresentation == key.rawRepresentation)
        #expect(try LogKeyFile.publicKey(pem: LogKeyFile.pem(key.publicKey)).rawRepresentation == key.publicKey.rawRepresentation)
        #expect(throws: LogError.self) { try LogKeyFile.create(at: path) }  // never overwrites
        #expect(throws: LogError.self) { try LogKeyFile.privateKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
        #expect(throws: LogError.self) { try LogKeyFile.privateKey(pem: "garbage") }
        // The private key never appears in the public PEM.
        #expect(!LogKeyFile.pem(key.publicKey).contains(Data(key.rawRepresentation).base64EncodedString()))
    }
}
