import Foundation
import Projections
import Testing

/// The canonical reader of secret writes (ADR-0019): it reads what the Nexus writes, agrees with
/// `JSONDecoder` there, and defers to it on every other form, so no body decodes differently or
/// is refused because of it.
@Suite struct CanonicalBodyTests {
    static let kind = SecretPut.kind.number
    static let actor = "spiffe://spike.ist/spike/pilot/role/superuser"

    static let puts = [
        SecretPut(path: "apps/db/creds", version: 1, keyID: Data(repeating: 7, count: 17), sealedValue: Data(repeating: 9, count: 61),
                  maxVersions: 10, pruned: [], at: 1_764_806_400_000, epoch: 2),
        SecretPut(path: "équipe/clé 🔑", version: Int.max, keyID: Data([1]), sealedValue: Data(), maxVersions: 0,
                  pruned: [0, 8, -3], at: Int64.min, epoch: nil),
        SecretPut(path: "", version: -1, keyID: Data(), sealedValue: Data([0xff, 0xfe]), maxVersions: 1, pruned: [Int.min], at: 0,
                  epoch: UInt32.max),
    ]

    @Test(arguments: puts)
    func theReaderReadsWhatTheNexusWritesAsJSONDecoderDoes(_ put: SecretPut) throws {
        let event = DomainEvent(actor: Self.actor, trail: "trail-1", put)
        let body = event.encoded()
        let fast = try #require(DomainEvent.decodeCanonical(kind: Self.kind, body: body), "deferred on \(String(decoding: body, as: UTF8.self))")
        #expect(fast == event)
        #expect(try DomainEvent.decodeWithJSONDecoder(kind: Self.kind, body: body) == event)
    }

    /// Forms `JSONDecoder` reads that the Nexus never writes: the reader defers, and the event
    /// decodes exactly as before.
    @Test(arguments: [
        #"{ "actor":"A","data":{"at":5,"keyID":"AQ==","maxVersions":1,"path":"p","pruned":[],"sealedValue":"","version":1},"trail":"t"}"#,
        #"{"actor":"A","data":{"at":5,"keyID":"AQ==","maxVersions":1,"path":"a\/b","pruned":[],"sealedValue":"","version":1},"trail":"t"}"#,
        #"{"actor":"A","data":{"at":5,"keyID":"AQ==","maxVersions":1,"path":"\u00e9","pruned":[],"sealedValue":"","version":1},"trail":"t"}"#,
        #"{"actor":"A","data":{"at":5,"epoch":null,"keyID":"AQ==","maxVersions":1,"path":"p","pruned":[],"sealedValue":"","version":1},"trail":"t"}"#,
        #"{"actor":"A","data":{"version":1,"at":5,"keyID":"AQ==","maxVersions":1,"path":"p","pruned":[],"sealedValue":""},"trail":"t"}"#,
        #"{"actor":"A","data":{"at":5,"keyID":"AQ==","maxVersions":1,"note":"x","path":"p","pruned":[],"sealedValue":"","version":1},"trail":"t"}"#,
        #"{"actor":"A","data":{"at":5,"keyID":"AQ==","maxVersions":1,"path":"p","pruned":[ ],"sealedValue":"","version":1},"trail":"t"}"#,
        // Foundation's JSONDecoder takes a trailing comma in an array.
        #"{"actor":"A","data":{"at":5,"keyID":"AQ==","maxVersions":1,"path":"p","pruned":[1,],"sealedValue":"","version":1},"trail":"t"}"#,
        #"{"actor":"A","data":{"at":5,"keyID":"AQ==","maxVersions":1,"path":"p","pruned":[],"sealedValue":"","version":1},"trail":"t"} "#,
    ])
    func otherFormsAreLeftToJSONDecoder(_ text: String) throws {
        let body = Array(text.utf8)
        #expect(DomainEvent.decodeCanonical(kind: Self.kind, body: body) == nil)
        let general = try #require(try DomainEvent.decodeWithJSONDecoder(kind: Self.kind, body: body))
        #expect(try DomainEvent.decode(kind: Self.kind, body: body) == general)
        let put = try #require(general.payload as? SecretPut)
        #expect(put.at == 5 && put.keyID == Data([1]) && put.epoch == nil)
    }

    /// Bodies that are not JSON or not a SecretPut: the reader does not take them, and the
    /// decoding fails as it always did, naming the kind.
    @Test(arguments: [
        #"{"actor":"A","data":{"at":05,"keyID":"AQ==","maxVersions":1,"path":"p","pruned":[],"sealedValue":"","version":1},"trail":"t"}"#,
        #"{"actor":"A","data":{"at":99999999999999999999,"keyID":"AQ==","maxVersions":1,"path":"p","pruned":[],"sealedValue":"","version":1},"trail":"t"}"#,
        #"{"actor":"A","data":{"at":5,"epoch":4294967296,"keyID":"AQ==","maxVersions":1,"path":"p","pruned":[],"sealedValue":"","version":1},"trail":"t"}"#,
        #"{"actor":"A","data":{"at":5,"keyID":"AQ=","maxVersions":1,"path":"p","pruned":[],"sealedValue":"","version":1},"trail":"t"}"#,
        "{\"actor\":\"A\",\"data\":{\"at\":5,\"keyID\":\"AQ==\",\"maxVersions\":1,\"path\":\"a\u{1}b\",\"pruned\":[],\"sealedValue\":\"\",\"version\":1},\"trail\":\"t\"}",
        #"{"actor":"A","data":{"at":-,"keyID":"AQ==","maxVersions":1,"path":"p","pruned":[],"sealedValue":"","version":1},"trail":"t"}"#,
        #"{"actor":"A","data":{"at":5,"keyID":"AQ==","maxVersions":1,"path":"p","pruned":[],"sealedValue":"","version":1},"trail":"t""#,
    ])
    func malformedBodiesAreRefusedAsBefore(_ text: String) {
        let body = Array(text.utf8)
        #expect(DomainEvent.decodeCanonical(kind: Self.kind, body: body) == nil)
        #expect(throws: EventDecodingError.self) { try DomainEvent.decodeWithJSONDecoder(kind: Self.kind, body: body) }
        #expect {
            try DomainEvent.decode(kind: Self.kind, body: body)
        } throws: { ($0 as? EventDecodingError)?.kind == "SecretPut" }
    }

    /// A path with bytes that are not UTF-8: JSONDecoder refuses it, and so does the reader.
    @Test func aPathThatIsNotUTF8IsRefused() {
        var body = Array(#"{"actor":"A","data":{"at":5,"keyID":"AQ==","maxVersions":1,"path":"#.utf8)
        body += [UInt8(ascii: "\""), 0xc3, 0x28, UInt8(ascii: "\"")]
        body += Array(#","pruned":[],"sealedValue":"","version":1},"trail":"t"}"#.utf8)
        #expect(DomainEvent.decodeCanonical(kind: Self.kind, body: body) == nil)
        #expect(throws: EventDecodingError.self) { try DomainEvent.decode(kind: Self.kind, body: body) }
    }
}
