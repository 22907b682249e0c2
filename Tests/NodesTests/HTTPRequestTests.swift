import Foundation
import NIOCore
import NIOHTTP1
import Nodes
import SPIFFE
import SpikeAPI
import Testing

/// A request's path and query as routes read them: the path before the first `?`, the query's
/// parameters split on `&` and the first `=`, percent-decoded with `+` as a space, the first of a
/// repeated name winning (Go's `Query().Get`, which SPIKE's routes use for `action`).
@Suite struct HTTPRequestTests {
    let peer = try! SPIFFEID(parsing: "spiffe://spike.ist/spike/pilot/role/superuser")

    func request(_ uri: String) -> HTTPRequest {
        HTTPRequest(method: .POST, uri: uri, peer: peer)
    }

    @Test(arguments: [
        ("/v1/store/secrets?action=get", "/v1/store/secrets", "get"),
        ("/v1/store/secrets", "/v1/store/secrets", nil),
        ("/v1/store/secrets?", "/v1/store/secrets", nil),
        ("/p?action=a&action=b", "/p", "a"),
        ("/p?other=1&&action=x", "/p", "x"),
        ("/p?%61ction=g%65t", "/p", "get"),
        ("/p?action", "/p", ""),
        ("/p?action=", "/p", ""),
        ("/p?action=a=b", "/p", "a=b"),
        ("/p?action=a+b", "/p", "a b"),
        ("/p?action=%zz", "/p", "%zz"),
        ("/p?x=1?action=y", "/p", nil),
        ("/p?a?b&action=é", "/p", "é"),
        ("?action=get", "", "get"),
    ] as [(String, String, String?)])
    func pathAndAction(uri: String, path: String, action: String?) {
        let request = request(uri)
        #expect(request.path == path)
        #expect(request.queryValue("action") == action)
        #expect(request.query["action"] == action)
    }

    /// The byte-level reading gives what the reading of Characters it replaced gave, on random
    /// URIs of the characters that matter (no combining marks: there the two differ, and the
    /// bytes are what Go reads).
    @Test func randomURIsAreReadAsBefore() {
        let alphabet: [String] = ["a", "c", "t", "i", "o", "n", "g", "e", "=", "&", "?", "%", "6", "1", "2", "0", "+", "/", "é", "z"]
        var generator = SplitMix64(seed: 15)
        for _ in 0..<20_000 {
            let uri = (0..<Int.random(in: 0...24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            let request = request(uri)
            let (path, query) = Self.characterReading(uri)
            #expect(request.path == path && request.query == query, "\(uri)")
            #expect(request.queryValue("action") == query["action"], "\(uri)")
        }
    }

    /// A route is found by its path and action (a table, not the `path?action` raw value built
    /// for every request): every route, and nothing the raw values would not name.
    @Test func routesAreFoundByPathAndActionAsTheirRawValuesSay() {
        for route in APIRoute.allCases {
            #expect(APIRoute(path: route.path, action: route.action) == route)
            if route.action.isEmpty { #expect(APIRoute(path: route.path, action: nil) == route) }
        }
        let others: [(String, String?)] = [("/v1/store/secrets", "get?x"), ("/v1/store/secrets?get", nil), ("/v1/store/secret", "get"),
                                           ("", nil), ("/v1/store/secrets", "GET"), ("/v1/store/secrets/", "get"), ("/v1/store/secrets", "list ")]
        for (path, action) in others {
            #expect(APIRoute(path: path, action: action) == APIRoute(rawValue: path + "?" + (action ?? "")), "\(path) \(action ?? "nil")")
        }
    }

    /// A request is a value though its fields share one box: a copy changed leaves the original
    /// as it was, field by field, and keeps its trail id.
    @Test func aChangedCopyLeavesTheOriginalAsItWas() throws {
        var original = HTTPRequest(method: .POST, uri: "/v1/store/secrets?action=get", headers: ["X-A": "1"],
                                   body: ByteBuffer(string: #"{"path":"a"}"#), peer: peer)
        var copy = original
        let other = try SPIFFEID(parsing: "spiffe://spike.ist/workload")
        copy.method = .PUT
        copy.path = "/other"
        copy.rawQuery = "action=list"
        copy.headers.add(name: "X-B", value: "2")
        copy.body = ByteBuffer(string: "{}")
        copy.peer = other
        #expect(original.method == .POST && original.path == "/v1/store/secrets" && original.queryValue("action") == "get")
        #expect(original.headers["X-A"] == ["1"] && original.headers["X-B"].isEmpty)
        #expect(String(buffer: original.body) == #"{"path":"a"}"# && original.peer == peer)
        #expect(copy.method == .PUT && copy.path == "/other" && copy.queryValue("action") == "list")
        #expect(copy.headers["X-A"] == ["1"] && copy.headers["X-B"] == ["2"] && String(buffer: copy.body) == "{}" && copy.peer == other)
        #expect(copy.trail == original.trail)
        // The original changed in turn: the copy does not follow.
        original.path = "/again"
        #expect(copy.path == "/other")
        #expect(HTTPRequest(method: .POST, uri: "/", peer: peer).trail != original.trail)
    }

    /// The reading this server had before (by Characters), kept as the reference.
    static func characterReading(_ uri: String) -> (path: String, query: [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if parts.count > 1 {
            for item in parts[1].split(separator: "&") {
                let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let decode = { (text: Substring) -> String in
                    guard text.contains(where: { $0 == "%" || $0 == "+" }) else { return String(text) }
                    return text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
                }
                let name = decode(pair[0])
                if query[name] == nil { query[name] = pair.count > 1 ? decode(pair[1]) : "" }
            }
        }
        return (String(parts[0]), query)
    }
}
