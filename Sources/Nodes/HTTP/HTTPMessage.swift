import Foundation
import NIOCore
import NIOHTTP1
import SpikeAPI
import SPIFFE
import Synchronization

/// A whole request as a route sees it: the body is read (up to the server's limit), the
/// caller's SPIFFE ID is the one the TLS handshake validated, and `trail` is SPIKE's trail id
/// for the events the request causes.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod {
        get { storage.method }
        set { unique().method = newValue }
    }
    /// The path without the query.
    public var path: String {
        get { storage.path }
        set { unique().path = newValue }
    }
    /// The query as it came (after the first `?`): its parameters are read from it when asked
    /// for, not kept in a dictionary built for every request (routes ask for one, `action`).
    public var rawQuery: Substring {
        get { storage.rawQuery }
        set { unique().rawQuery = newValue }
    }
    /// The headers; a request the server framed makes them from its header lines when asked
    /// (a route rarely reads one: no strings are made for the others).
    public var headers: HTTPHeaders {
        get { storage.headerLines.map(HTTPRequestParser.headers(in:)) ?? storage.givenHeaders }
        set {
            let storage = unique()
            storage.givenHeaders = newValue
            storage.headerLines = nil
        }
    }
    public var body: ByteBuffer {
        get { storage.body }
        set { unique().body = newValue }
    }
    public var peer: SPIFFEID {
        get { storage.peer }
        set { unique().peer = newValue }
    }
    /// SPIKE's trail id: 8 alphanumerics naming this request in the events it causes.
    public var trail: String { storage.trail }

    /// The fields in one box, copied on write (as NIO boxes `HTTPRequestHead`): Swift copied a
    /// request on its way to a route (at its making, in the server), a retain and a release of
    /// each of its strings and buffers; a copy of the box is one of each.
    private var storage: Storage

    /// Changed only through `unique()`, when no other request holds it: shared, it is not changed.
    private final class Storage: @unchecked Sendable {
        var method: HTTPMethod
        var path: String
        var rawQuery: Substring
        var body: ByteBuffer
        var peer: SPIFFEID
        let trail: String
        var givenHeaders: HTTPHeaders
        /// The header lines `HTTPRequestParser` checked, when the request came from the server.
        var headerLines: ByteBuffer?

        init(method: HTTPMethod, path: String, rawQuery: Substring, body: ByteBuffer, peer: SPIFFEID, trail: String,
             givenHeaders: HTTPHeaders, headerLines: ByteBuffer?) {
            self.method = method
            self.path = path
            self.rawQuery = rawQuery
            self.body = body
            self.peer = peer
            self.trail = trail
            self.givenHeaders = givenHeaders
            self.headerLines = headerLines
        }

        func copy() -> Storage {
            Storage(method: method, path: path, rawQuery: rawQuery, body: body, peer: peer, trail: trail, givenHeaders: givenHeaders,
                    headerLines: headerLines)
        }
    }

    /// The box, made this request's alone before a change.
    private mutating func unique() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer(), peer: SPIFFEID) {
        var uri = uri
        let (path, query) = uri.withUTF8 { HTTPRequestParser.target(UnsafeRawBufferPointer($0)) }
        storage = Storage(method: method, path: path, rawQuery: Substring(query ?? ""), body: body, peer: peer, trail: Self.trailID(),
                          givenHeaders: headers, headerLines: nil)
    }

    /// A request the server framed (`HTTPRequestParser`).
    init(_ request: HTTPRequestParser.Request, peer: SPIFFEID) {
        storage = Storage(method: request.head.method, path: request.head.path, rawQuery: Substring(request.head.query ?? ""),
                          body: request.body, peer: peer, trail: Self.trailID(), givenHeaders: [:], headerLines: request.head.headerLines)
    }

    /// The first value of the query parameter `name` (the first of a repeated name wins, as Go's
    /// `Query().Get`); names and values are percent-decoded, `+` read as a space.
    public func queryValue(_ name: String) -> String? {
        var found: String?
        forEachQueryParameter { parameter, value in
            guard parameter.matches(name) else { return true }
            found = value.decoded
            return false
        }
        return found
    }

    /// Every parameter of the query (the first value of a repeated name wins).
    public var query: [String: String] {
        var query: [String: String] = [:]
        forEachQueryParameter { name, value in
            let name = name.decoded
            if query[name] == nil { query[name] = value.decoded }
            return true
        }
        return query
    }

    /// One name or value of the query as it came (its bytes, for the call it is passed to).
    struct QueryText {
        let bytes: UnsafeRawBufferPointer

        /// Whether it has escapes or `+` to decode (most names and values have none).
        private var isEncoded: Bool { bytes.contains { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") } }

        /// Percent-decoded, `+` as a space; the text as it came when its escapes are not valid.
        var decoded: String {
            let text = String(decoding: bytes, as: UTF8.self)
            guard isEncoded else { return text }
            return text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? text
        }

        func matches(_ name: String) -> Bool {
            guard !isEncoded else { return decoded == name }
            var name = name
            return name.withUTF8 { bytes.elementsEqual(UnsafeRawBufferPointer($0)) }
        }
    }

    /// Calls `body` with each `name=value` of the query, split on `&` (empty items skipped) and on
    /// the first `=` (a name alone has the value ""), until it returns false. The query's bytes
    /// are read in place: walking a Substring's indices cost more than the rest of the route.
    func forEachQueryParameter(_ body: (_ name: QueryText, _ value: QueryText) -> Bool) {
        var query = rawQuery
        query.withUTF8 { query in
            let query = UnsafeRawBufferPointer(query)
            var start = 0
            while start < query.count {
                let rest = UnsafeRawBufferPointer(rebasing: query[start...])
                let end = start + (rest.firstIndex(of: UInt8(ascii: "&")) ?? rest.count)
                if start < end {
                    let item = UnsafeRawBufferPointer(rebasing: query[start..<end])
                    let equals = item.firstIndex(of: UInt8(ascii: "="))
                    let name = UnsafeRawBufferPointer(rebasing: item[..<(equals ?? item.count)])
                    let value = equals.map { UnsafeRawBufferPointer(rebasing: item[($0 + 1)...]) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
                    if !body(QueryText(bytes: name), QueryText(bytes: value)) { return }
                }
                start = end + 1
            }
        }
    }

    /// The body decoded as JSON; 400 `api_bad_request` (in `route`'s shape) when it is not valid
    /// JSON of that shape.
    public func decode<T: Decodable>(_ type: T.Type, for route: APIRoute? = nil) throws(APIFailure) -> T {
        try decodeWithJSONDecoder(T.self, for: route)
    }

    /// The same, through the type's canonical reader first.
    public func decode<T: CanonicallyDecodable>(_ type: T.Type, for route: APIRoute? = nil) throws(APIFailure) -> T {
        if let request = body.withUnsafeReadableBytes({ T.decodeCanonical($0) }) { return request }
        return try decodeWithJSONDecoder(T.self, for: route)
    }

    private func decodeWithJSONDecoder<T: Decodable>(_ type: T.Type, for route: APIRoute?) throws(APIFailure) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch {
            throw APIFailure(.badRequest, route: route)
        }
    }

    /// The route of a request to `path`: its `action` query value picks it.
    public func route(at path: String) -> APIRoute? {
        APIRoute(path: path, action: queryValue("action"))
    }

    /// SPIKE's trail ids: 8 alphanumerics naming a request in the events it causes. A trail is
    /// neither a secret nor a capability, so it comes from a count mixed under a key drawn once
    /// per process (SplitMix64's finalizer: a different 64-bit value for every count), not from a
    /// system call for random bytes on every request.
    static func trailID() -> String {
        var bits = trailKey &+ trailCount.wrappingAdd(1, ordering: .relaxed).newValue
        bits = (bits ^ (bits >> 30)) &* 0xBF58_476D_1CE4_E5B9
        bits = (bits ^ (bits >> 27)) &* 0x94D0_49BB_1331_11EB
        bits ^= bits >> 31
        // Eight ASCII characters: a small string, nothing allocated.
        return String(unsafeUninitializedCapacity: 8) { id in
            for index in 0..<8 {
                id[index] = trailAlphabet[Int(bits % 36)]
                bits /= 36
            }
            return 8
        }
    }

    private static let trailKey = UInt64.random(in: .min ... .max)
    private static let trailCount = Atomic<UInt64>(0)
    private static let trailAlphabet: [UInt8] = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
}

/// A response; JSON ones carry SPIKE's no-cache headers (reference §2.1).
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders {
        didSet { headerLines = nil }
    }
    public var body: ByteBuffer
    /// The headers' lines as written, when known ahead (a JSON response's, made once for the
    /// process); nil once `headers` change, and then they are written from `headers`.
    var headerLines: ByteBuffer?

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ value: some Encodable, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        // Encoding the plain response structs of the API cannot fail.
        json(body: ByteBuffer(bytes: try! WireJSON.encoder.encode(value)), status: status)
    }

    /// A body that is JSON already.
    public static func json(body: ByteBuffer, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        var response = HTTPResponse(status: status, headers: jsonHeaders, body: body)
        response.headerLines = jsonHeaderLines
        return response
    }

    private static let jsonHeaderLines = jsonHeaders.lines()

    /// A buffer for a body to be written into, with room before it for the head (a status line
    /// and `headroom` bytes of headers): the server writes the head there, and the response
    /// leaves as this one buffer, the body not copied after a head.
    public static func bodyWithHeadroom(capacity: Int) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: headroom + capacity)
        buffer.moveWriterIndex(forwardBy: headroom)
        buffer.moveReaderIndex(forwardBy: headroom)
        return buffer
    }

    /// Enough for a JSON response's head, its length and `Connection: close` (199 bytes).
    static let headroom = 224

    private static let jsonHeaders: HTTPHeaders = [
        "Content-Type": "application/json",
        "Cache-Control": "no-store, no-cache, must-revalidate, private",
        "Pragma": "no-cache",
        "Expires": "0",
    ]

    /// A failure's body in its route's shape: SPIKE's codes-only `{"err":"code"}` (SPIKE's ADR-0030).
    public static func failure(_ failure: APIFailure) -> HTTPResponse {
        let body: any Encodable & Sendable = failure.route?.errorBody(failure.code) ?? APIErrorBody(failure.code)
        return json(body, status: failure.status)
    }

    /// Bytes as they are (the cipher's stream mode).
    public static func bytes(_ bytes: some Sequence<UInt8>, contentType: String) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: ["Content-Type": contentType, "Cache-Control": "no-store"], body: ByteBuffer(bytes: bytes))
    }

    public static func text(_ text: String, status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType, "Cache-Control": "no-store"], body: ByteBuffer(string: text))
    }
}

extension HTTPHeaders {
    /// `Name: value\r\n` for each header, as a response carries them.
    func lines() -> ByteBuffer {
        var buffer = ByteBuffer()
        for (name, value) in self {
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        return buffer
    }
}
