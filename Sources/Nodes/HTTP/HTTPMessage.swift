import Foundation
import NIOCore
import NIOHTTP1
import SpikeAPI
import SPIFFE

/// A whole request as a route sees it: the body is read (up to the server's limit) and the
/// caller's SPIFFE ID is the one the TLS handshake validated.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The path without the query.
    public var path: String
    /// The query's parameters (the first value of a repeated name wins, as Go's `Query().Get`).
    public var query: [String: String]
    public var headers: HTTPHeaders
    public var body: ByteBuffer
    public var peer: SPIFFEID

    public init(method: HTTPMethod, uri: String, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer(), peer: SPIFFEID) {
        self.method = method
        self.headers = headers
        self.body = body
        self.peer = peer
        // A plain split: URLComponents costs more than the rest of a small request.
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = String(parts[0])
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
        self.query = query
    }

    /// The body decoded as JSON, or nil when it is not valid JSON of that shape.
    public func decodeJSON<T: Decodable>(_ type: T.Type) -> T? {
        try? JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }
}

/// A response; JSON ones carry SPIKE's no-cache headers (reference §2.1).
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(status: HTTPResponseStatus, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    public static func json(_ value: some Encodable, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        // Encoding the plain response structs of the API cannot fail.
        json(body: ByteBuffer(bytes: try! encoder.encode(value)), status: status)
    }

    /// A body that is JSON already.
    public static func json(body: ByteBuffer, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: jsonHeaders, body: body)
    }

    private static let jsonHeaders: HTTPHeaders = [
        "Content-Type": "application/json",
        "Cache-Control": "no-store, no-cache, must-revalidate, private",
        "Pragma": "no-cache",
        "Expires": "0",
    ]

    /// SPIKE's codes-only error body, `{"err":"code"}` (ADR-0030).
    public static func error(_ code: APIErrorCode, status: HTTPResponseStatus) -> HTTPResponse {
        json(APIErrorBody(code), status: status)
    }

    public static func text(_ text: String, status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType, "Cache-Control": "no-store"], body: ByteBuffer(string: text))
    }
}
