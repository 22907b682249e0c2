import Foundation
import Projections
import Testing

/// The canonical writer (ADR-0020) writes the bytes `JSONEncoder` writes, so records and sealed
/// values do not change form: each case is compared with the encoder itself.
@Suite struct CanonicalJSONWriterTests {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// A generator of strings with what needs care: every control character, quotes,
    /// backslashes, slashes, DEL, two- to four-byte UTF-8 and the line separators.
    struct Strings {
        var random: SystemRandomNumberGenerator
        static let pool: [Unicode.Scalar] = (0..<0x80).map { Unicode.Scalar(UInt8($0)) }
            + ["é", "ß", "€", "\u{2028}", "\u{2029}", "\u{FEFF}", "😀", "🔑", "\u{10FFFF}", "ﬁ", "Ω"]

        mutating func next(maxLength: Int = 12) -> String {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...maxLength, using: &random) { text.append(Self.pool.randomElement(using: &random)!) }
            return String(text)
        }
    }

    private static func written(_ write: (inout CanonicalJSONWriter) -> Void) -> String {
        var writer = CanonicalJSONWriter(capacity: 0)
        write(&writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    private static func encoded(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    @Test func everyASCIICharacterIsEscapedAsJSONEncoderDoes() throws {
        for byte in 0..<0x80 {
            let text = "a" + String(Unicode.Scalar(UInt8(byte))) + "b"
            #expect(Self.written { $0.raw("["); $0.string(text); $0.raw("]") } == (try Self.encoded([text])), "byte \(byte)")
        }
    }

    @Test func randomStringsAreWrittenAsJSONEncoderDoes() throws {
        var strings = Strings(random: SystemRandomNumberGenerator())
        for _ in 0..<2_000 {
            let text = strings.next(maxLength: 40)
            #expect(Self.written { $0.raw("["); $0.string(text); $0.raw("]") } == (try Self.encoded([text])))
        }
    }

    @Test func objectsHaveTheirKeysInJSONEncodersOrder() throws {
        var strings = Strings(random: SystemRandomNumberGenerator())
        let fixed = ["b": "1", "B": "2", "a10": "3", "a9": "4", "_": "5", "-": "6", "a b": "7", "é": "8", "z": "9", "😀": "10", "": "11"]
        #expect(Self.written { $0.object(fixed) } == (try Self.encoded(fixed)))
        #expect(Self.written { $0.object([:]) } == "{}")
        for _ in 0..<500 {
            var members: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...8) { members[strings.next(maxLength: 6)] = strings.next() }
            #expect(Self.written { $0.object(members) } == (try Self.encoded(members)))
        }
    }

    /// `objectSize` is exactly what `object` writes, so a writer reserved that size never grows
    /// (a sealed value's plaintext is wiped in the one buffer it had).
    @Test func anObjectsSizeIsKnownBeforeItIsWritten() {
        var strings = Strings(random: SystemRandomNumberGenerator())
        for round in 0..<1_000 {
            var members: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...6) { members[strings.next(maxLength: 6)] = strings.next(maxLength: round.isMultiple(of: 10) ? 200 : 20) }
            let size = CanonicalJSONWriter.objectSize(members)
            var writer = CanonicalJSONWriter(capacity: size)
            let capacity = writer.bytes.capacity
            writer.object(members)
            #expect(writer.bytes.count == size && writer.bytes.capacity == capacity)
        }
        // Escapes counted: a quote, a backslash, a tab, a control character as \u0001.
        #expect(CanonicalJSONWriter.objectSize(["k": "\"\\\t\u{1}"]) == #"{"k":"\"\\\t\u0001"}"#.utf8.count)
    }

    @Test func dataIsPaddedBase64AsJSONEncoderWritesIt() throws {
        for count in 0..<70 {
            let data = Data((0..<count).map { _ in UInt8.random(in: 0...255) })
            #expect(Self.written { $0.raw("["); $0.base64(data); $0.raw("]") } == (try Self.encoded([data])), "\(count) bytes")
        }
    }

    @Test func integersAtTheirLimits() throws {
        for value in [0, 1, -1, 9, 10, -10, 1_764_806_400_000, Int.max, Int.min] {
            #expect(Self.written { $0.integer(value) } == "\(value)")
        }
        #expect(Self.written { $0.integer(UInt32.max) } == "4294967295")
        #expect(Self.written { $0.integer(Int64.min) } == "-9223372036854775808")
        #expect(Self.written { $0.integers([]) } == (try Self.encoded([Int]())))
        #expect(Self.written { $0.integers([3, -1, Int.min]) } == (try Self.encoded([3, -1, Int.min])))
    }

    /// Every secret write's record body: the same bytes as the encoder's envelope, for the
    /// puts the reader's tests use and random ones with strings that need escapes.
    @Test func aSecretPutsRecordBodyIsTheEncodersByteForByte() throws {
        var strings = Strings(random: SystemRandomNumberGenerator())
        var puts = CanonicalBodyTests.puts.map { (put: $0, actor: CanonicalBodyTests.actor, trail: "trail-1") }
        for _ in 0..<500 {
            let put = SecretPut(path: strings.next(maxLength: 30), version: Int.random(in: .min ... .max),
                                keyID: Data((0..<Int.random(in: 0...20)).map { _ in UInt8.random(in: 0...255) }),
                                sealedValue: Data((0..<Int.random(in: 0...90)).map { _ in UInt8.random(in: 0...255) }),
                                maxVersions: Int.random(in: -5...100), pruned: (0..<Int.random(in: 0...4)).map { _ in Int.random(in: .min ... .max) },
                                at: Int64.random(in: .min ... .max), epoch: Bool.random() ? nil : UInt32.random(in: .min ... .max))
            puts.append((put, strings.next(maxLength: 50), strings.next()))
        }
        for (put, actor, trail) in puts {
            let body = put.envelope(actor: actor, trail: trail)
            #expect(body == put.envelopeWithJSONEncoder(actor: actor, trail: trail), "\(String(decoding: body, as: UTF8.self))")
            #expect(try DomainEvent.decode(kind: SecretPut.kind.number, body: body) == DomainEvent(actor: actor, trail: trail, put))
        }
    }
}
