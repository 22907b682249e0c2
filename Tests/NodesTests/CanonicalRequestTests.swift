import Foundation
import NIOCore
import NIOHTTP1
import Nodes
import SPIFFE
import SpikeAPI
import Testing

/// The canonical reader of secret writes' requests (ADR-0020): it reads the forms clients send
/// as `JSONDecoder` does, leaves every other form to it, and so answers no request differently.
@Suite struct CanonicalRequestTests {
    static let peer = try! SPIFFEID(parsing: "spiffe://spike.ist/spike/pilot/role/superuser")

    private static func request(_ body: [UInt8]) -> HTTPRequest {
        HTTPRequest(method: .POST, uri: "/v1/store/secrets", body: ByteBuffer(bytes: body), peer: peer)
    }

    private static func canonical(_ body: [UInt8]) -> SecretPutRequest? {
        body.withUnsafeBytes { SecretPutRequest.decodeCanonical($0) }
    }

    private static func general(_ body: [UInt8]) throws -> SecretPutRequest {
        try JSONDecoder().decode(SecretPutRequest.self, from: Data(body))
    }

    private static func same(_ a: SecretPutRequest, _ b: SecretPutRequest) -> Bool {
        a.path == b.path && a.values == b.values && a.cas == b.cas
    }

    /// SPIKE's Go client's form and `spike secret put`'s (sorted keys, slashes unescaped), with
    /// and without a check-and-set: all read canonically, all as `JSONDecoder` reads them.
    @Test func whatClientsSendIsReadAsJSONDecoderReadsIt() throws {
        var bodies = [
            Array(#"{"path":"apps/db","values":{"password":"s3cr3t","user":"spike"}}"#.utf8),
            Array(#"{"path":"équipe/clé","values":{}}"#.utf8),
            Array(#"{"cas":0,"path":"a","values":{"k":"v"}}"#.utf8),
            Array(#"{"path":"a","values":{"k":"v","b":""},"cas":-3}"#.utf8),
        ]
        for request in [SecretPutRequest(path: "apps/db", values: ["user": "spike", "password": "s3cr3t", "note": "a b"]),
                        SecretPutRequest(path: "apps/db", values: ["k": "v"], cas: 7)] {
            bodies.append(Array(try WireJSON.encoder.encode(request)))
        }
        for body in bodies {
            let fast = try #require(Self.canonical(body), "deferred on \(String(decoding: body, as: UTF8.self))")
            #expect(Self.same(fast, try Self.general(body)))
            #expect(Self.same(try Self.request(body).decode(SecretPutRequest.self), fast))
        }
    }

    /// Forms `JSONDecoder` reads that the reader does not: it defers, and the request is what
    /// `JSONDecoder` reads.
    @Test(arguments: [
        #"{ "path":"a","values":{"k":"v"}}"#,
        #"{"path":"a\/b","values":{"k":"v"}}"#,
        #"{"path":"a","values":{"k":"\u00e9"}}"#,
        #"{"values":{"k":"v"},"path":"a"}"#,
        #"{"path":"a","values":{"k":"v","k":"w"}}"#,
        #"{"path":"a","values":{"k":"v"},"note":1}"#,
        #"{"path":"a","values":null}"#,
        #"{"path":"a"}"#,
        #"{"path":"a","values":{"k":"v"},"cas":1.0}"#,
        #"{"path":"a","values":{"k":"v"}} "#,
    ])
    func otherFormsAreLeftToJSONDecoder(_ text: String) throws {
        let body = Array(text.utf8)
        #expect(Self.canonical(body) == nil)
        #expect(Self.same(try Self.request(body).decode(SecretPutRequest.self), try Self.general(body)))
    }

    /// Bodies that are no secret write: refused as a bad request, as before.
    @Test(arguments: [
        #"{"path":"a","values":{"k":1}}"#,
        #"{"path":"a","values":{"k":"v"}"#,
        #"{"path":"a","values":{"k":"v"},"cas":99999999999999999999}"#,
        #"{"cas":"1","path":"a","values":{}}"#,
        "{\"path\":\"a\u{1}\",\"values\":{}}",
        #"{"values":{}}"#,
        "",
    ])
    func malformedBodiesAreRefusedAsBefore(_ text: String) {
        let body = Array(text.utf8)
        #expect(Self.canonical(body) == nil)
        #expect {
            try Self.request(body).decode(SecretPutRequest.self, for: .secretPut)
        } throws: { error in
            let failure = error as? APIFailure
            return failure?.code == .badRequest && failure?.status == .badRequest && failure?.route == .secretPut
        }
    }

    /// Random requests as `spike` and a default `JSONEncoder` encode them, with characters that
    /// need escapes among them (seeded): wherever the reader answers, `JSONDecoder` reads the same
    /// request.
    @Test func randomRequestsAreReadAsJSONDecoderReadsThem() throws {
        let pool: [Unicode.Scalar] = ["a", "b", "c", "Z", "0", "1", " ", "-", "_", "/", "\"", "\\", "\n", "\u{1}", "é", "😀", "\u{2028}"]
        var random = SplitMix64(seed: 20_261_204)
        func text() -> String {
            String(String.UnicodeScalarView((0..<Int.random(in: 0...6, using: &random)).map { _ in pool.randomElement(using: &random)! }))
        }
        var answered = 0
        for round in 0..<2_000 {
            var values: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &random) { values[text()] = text() }
            let request = SecretPutRequest(path: text(), values: values, cas: Bool.random(using: &random) ? nil : Int.random(in: -9...9, using: &random))
            let body = Array(try (round.isMultiple(of: 2) ? WireJSON.encoder : JSONEncoder()).encode(request))
            guard let fast = Self.canonical(body) else { continue }
            answered += 1
            #expect(Self.same(fast, try Self.general(body)), "\(String(decoding: body, as: UTF8.self))")
        }
        // Many of these requests need an escape somewhere (about one in six of `spike`'s has
        // none): the reader must still have answered a good share.
        #expect(answered > 50)
    }
}
