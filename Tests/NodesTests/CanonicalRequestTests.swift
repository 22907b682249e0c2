import Foundation
import NIOCore
import NIOHTTP1
import Nodes
import SPIFFE
import SpikeAPI
import Testing

/// The canonical readers of secret writes' and reads' requests (ADR-0020): they read the forms
/// clients send as `JSONDecoder` does, leave every other form to it, and so answer no request
/// differently.
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

    // MARK: - Reads

    private static func read(_ text: String) -> (canonical: SecretReadRequest?, general: Result<SecretReadRequest, any Error>, served: Result<SecretReadRequest, APIFailure>) {
        let body = Array(text.utf8)
        return (body.withUnsafeBytes { SecretReadRequest.decodeCanonical($0) },
                Result { try JSONDecoder().decode(SecretReadRequest.self, from: Data(body)) },
                Result { () throws(APIFailure) in try request(body).decode(SecretReadRequest.self, for: .secretGet) })
    }

    /// SPIKE's Go client sends the version always (0 for the current one), `spike secret get`
    /// sorted keys and the version only when asked: all read canonically, as `JSONDecoder` reads them.
    @Test func readsAsClientsSendThemAreReadAsJSONDecoderReadsThem() throws {
        var bodies = [#"{"path":"apps/db","version":0}"#, #"{"path":"apps/db","version":12}"#, #"{"path":"équipe/clé"}"#]
        for request in [SecretReadRequest(path: "apps/db", version: nil), SecretReadRequest(path: "a/b", version: 3)] {
            bodies.append(String(decoding: try WireJSON.encoder.encode(request), as: UTF8.self))
        }
        for body in bodies {
            let (canonical, general, served) = Self.read(body)
            let fast = try #require(canonical, "deferred on \(body)")
            let slow = try general.get()
            #expect(fast.path == slow.path && fast.version == slow.version, "\(body)")
            let answer = try served.get()
            #expect(answer.path == fast.path && answer.version == fast.version)
        }
    }

    /// Forms the reader leaves to `JSONDecoder` (which reads them, or refuses them as a bad
    /// request of the read's route, as before).
    @Test(arguments: [
        (#"{"version":1,"path":"a"}"#, true), (#"{"path":"a\/b"}"#, true), (#"{"path":"a","version":null}"#, true),
        (#"{"path":"a" }"#, true), (#"{"path":"a","version":1,"x":2}"#, true), (#"{"path":"a","version":"1"}"#, false),
        (#"{"path":"a","version":1.5}"#, false), (#"{"version":1}"#, false), (#"{"path":"a""#, false), ("", false),
    ])
    func otherReadFormsAreLeftToJSONDecoder(_ text: String, _ readable: Bool) throws {
        let (canonical, general, served) = Self.read(text)
        #expect(canonical == nil)
        switch (general, served) {
        case (.success(let slow), .success(let answer)):
            #expect(readable && answer.path == slow.path && answer.version == slow.version)
        case (.failure, .failure(let failure)):
            #expect(!readable && failure.code == .badRequest && failure.route == .secretGet)
        default:
            Issue.record("the served request and JSONDecoder disagree on \(text)")
        }
    }
}
