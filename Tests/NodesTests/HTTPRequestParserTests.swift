import NIOCore
import NIOHTTP1
import Nodes
import Testing

/// The server's HTTP/1.1 framing (`HTTPRequestParser`): requests as they come, in any split,
/// pipelined; and each way a request can be framed twice or past a limit, refused with its own
/// reason (RFC 9112's rules against request smuggling). The same bytes over mutual TLS to a real
/// Nexus: `Tests/interop/test_http_wire.py`.
@Suite struct HTTPRequestParserTests {
    static let maxBody = 1024

    /// Everything `bytes` holds, fed in pieces of `piece` bytes: the requests, then the refusal
    /// or nil when the bytes ended waiting for more.
    static func parse(_ text: String, piece: Int? = nil) -> (requests: [HTTPRequestParser.Request], refusal: HTTPRequestRefusal?, head: HTTPRequestParser.Head?) {
        let bytes = Array(text.utf8)
        var parser = HTTPRequestParser(maxBodySize: Self.maxBody)
        var requests: [HTTPRequestParser.Request] = []
        var start = 0
        repeat {
            let end = min(bytes.count, start + (piece ?? bytes.count))
            var buffer = ByteBuffer(bytes: bytes[start..<end])
            parser.append(&buffer)
            start = end
            parsing: while true {
                switch parser.next() {
                case .request(let request): requests.append(request)
                case .refused(let refusal, let head): return (requests, refusal, head)
                case .needMoreBytes: break parsing
                }
            }
        } while start < bytes.count
        return (requests, nil, nil)
    }

    static func summary(_ request: HTTPRequestParser.Request) -> String {
        "\(request.head.method.rawValue) \(request.head.uri) \(request.head.version) keepAlive=\(request.head.keepAlive) "
            + "[\(request.head.headers.map { "\($0.name)=\($0.value)" }.joined(separator: ";"))] "
            + String(buffer: request.body)
    }

    static let pipelined = "\r\n"
        + "POST /v1/store/secrets?action=get HTTP/1.1\r\nHost: nexus\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"path\":\"a/b\"}\n"
        + "GET /v1/ready HTTP/1.1\r\nhost:nexus\r\nX-Empty:\r\nX-Spaces: \t padded value \t\r\n\r\n"
        + "POST /v1/cipher/encrypt HTTP/1.1\r\nHost: nexus\r\nTransfer-Encoding: Chunked\r\n\r\n"
        + "5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: dropped\r\n\r\n"
        + "HEAD /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        + "DELETE /x HTTP/1.1\r\nHost: h\r\nConnection: upgrade, Close\r\n\r\n"

    @Test func pipelinedRequestsAreFramedOneByOne() {
        let (requests, refusal, _) = Self.parse(Self.pipelined)
        #expect(refusal == nil)
        #expect(requests.map(Self.summary) == [
            "POST /v1/store/secrets?action=get HTTP/1.1 keepAlive=true [Host=nexus;Content-Type=application/json;Content-Length=15] {\"path\":\"a/b\"}\n",
            "GET /v1/ready HTTP/1.1 keepAlive=true [host=nexus;X-Empty=;X-Spaces=padded value] ",
            "POST /v1/cipher/encrypt HTTP/1.1 keepAlive=true [Host=nexus;Transfer-Encoding=Chunked] hello 0123456789",
            "HEAD /health HTTP/1.0 keepAlive=true [Connection=keep-alive] ",
            "DELETE /x HTTP/1.1 keepAlive=false [Host=h;Connection=upgrade, Close] ",
        ])
    }

    /// However the bytes are cut (one at a time included), the same requests come out.
    @Test(arguments: [1, 2, 3, 7, 16, 64, 100])
    func anySplitFramesTheSameRequests(piece: Int) {
        let whole = Self.parse(Self.pipelined).requests.map(Self.summary)
        let (requests, refusal, _) = Self.parse(Self.pipelined, piece: piece)
        #expect(refusal == nil)
        #expect(requests.map(Self.summary) == whole)
    }

    @Test func anIncompleteRequestWaitsForItsBytes() {
        for prefix in ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab", "GET / HTTP/1.1\r\nHost: a\r\n",
                       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab", "GET / HT"] {
            let (requests, refusal, _) = Self.parse(prefix)
            #expect(requests.isEmpty && refusal == nil, "\(prefix)")
        }
    }

    @Test func keepAliveFollowsTheVersionAndConnection() {
        let cases: [(String, Bool)] = [
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
            ("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false),
            ("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            ("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false),
        ]
        for (text, keepAlive) in cases {
            #expect(Self.parse(text).requests.first?.head.keepAlive == keepAlive, "\(text)")
        }
    }

    static let refused: [(String, HTTPRequestRefusal)] = [
        // Lines
        ("GET / HTTP/1.1\nHost: a\n\n", .bareLineFeed),
        ("GET / HTTP/1.1\r\nHost: a\n\r\n", .bareLineFeed),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", .malformedHeader),
        ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", .malformedRequestLine),
        ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", .malformedRequestLine),
        ("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", .malformedRequestLine),
        ("GET /\u{7F} HTTP/1.1\r\nHost: a\r\n\r\n", .malformedRequestLine),
        ("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", .malformedRequestLine),
        ("GET / http/1.1\r\nHost: a\r\n\r\n", .malformedRequestLine),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", .versionNotSupported),
        ("GET / HTTP/0.9\r\nHost: a\r\n\r\n", .versionNotSupported),
        ("GET / HTTP/1.2\r\nHost: a\r\n\r\n", .versionNotSupported),
        // Headers
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", .malformedHeader),
        ("GET / HTTP/1.1\r\nHost: a\r\nX-Nul: a\u{0}b\r\n\r\n", .malformedHeader),
        ("GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n", .malformedHeader),
        ("GET / HTTP/1.1\r\nHost: a\r\n: value\r\n\r\n", .malformedHeader),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n folded\r\n\r\n", .obsoleteLineFolding),
        ("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", .obsoleteLineFolding),
        ("GET / HTTP/1.1\r\n\r\n", .invalidHost),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .invalidHost),
        ("GET / HTTP/1.0\r\nHost: a\r\nHOST: b\r\n\r\n", .invalidHost),
        // Framing
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", .ambiguousFraming),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", .ambiguousFraming),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", .ambiguousFraming),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", .ambiguousFraming),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", .ambiguousFraming),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", .ambiguousFraming),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", .ambiguousFraming),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .transferCodingNotImplemented),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2 x\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\nab\r\n", .bareLineFeed),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", .malformedHeader),
        // Sizes
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1025\r\n\r\n", .bodyTooLarge),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n", .bodyTooLarge),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffff\r\n", .bodyTooLarge),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n" + String(repeating: "x", count: 512) + "\r\n201\r\n", .bodyTooLarge),
        ("GET /" + String(repeating: "a", count: 16 * 1024) + " HTTP/1.1\r\nHost: a\r\n\r\n", .requestLineTooLong),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "a", count: 16 * 1024) + "\r\n\r\n", .headTooLarge),
        ("GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X: a\r\n", count: 100) + "\r\n", .headTooLarge),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" + String(repeating: "e", count: 1100) + "\r\n", .malformedChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " + String(repeating: "t", count: 16 * 1024) + "\r\n\r\n", .headTooLarge),
    ]

    /// Each refused with its own reason, whether it came whole or a byte at a time; a request
    /// behind a refused one (the smuggled one) is never framed.
    @Test(arguments: refused)
    func refusedWithItsReason(text: String, reason: HTTPRequestRefusal) {
        let smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
        for piece in [nil, 1] as [Int?] {
            let (requests, refusal, _) = Self.parse(text + smuggled, piece: piece)
            #expect(refusal == reason, "\(text.prefix(80).debugDescription) in pieces of \(piece ?? 0)")
            #expect(requests.isEmpty)
        }
    }

    /// Every byte in the middle of a header name: a token byte (RFC 9110's `tchar`) is framed,
    /// any other refused as a malformed header (the colon, CR and LF end the name instead).
    @Test func aHeaderNameIsMadeOfTokenBytes() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        var framed = 0
        for byte in UInt8.min...UInt8.max where ![UInt8(ascii: ":"), UInt8(ascii: "\r"), UInt8(ascii: "\n")].contains(byte) {
            var parser = HTTPRequestParser(maxBodySize: Self.maxBody)
            var buffer = ByteBuffer(bytes: Array("GET / HTTP/1.1\r\nHost: a\r\nX".utf8) + [byte] + Array("Y: v\r\n\r\n".utf8))
            parser.append(&buffer)
            switch parser.next() {
            case .request(let request):
                framed += 1
                #expect(tchar.contains(byte), "byte \(byte)")
                #expect(request.head.headers["X" + String(UnicodeScalar(byte)) + "Y"] == ["v"])
            case .refused(let refusal, _):
                #expect(!tchar.contains(byte), "byte \(byte)")
                #expect(refusal == .malformedHeader, "byte \(byte)")
            case .needMoreBytes:
                Issue.record("byte \(byte): the request was not framed")
            }
        }
        #expect(framed == tchar.count)
    }

    @Test func aBodyDeclaredTooLargeIsRefusedFromItsHeadAlone() {
        let (_, refusal, head) = Self.parse("POST /v1/store/secrets HTTP/1.0\r\nContent-Length: 2000\r\n\r\n")
        #expect(refusal == .bodyTooLarge)
        #expect(refusal?.status == .payloadTooLarge)
        #expect(head?.uri == "/v1/store/secrets" && head?.version == .http1_0)
    }

    @Test func bodiesUpToTheLimitAreRead() {
        let body = String(repeating: "b", count: Self.maxBody)
        let chunked = "200\r\n" + body.prefix(512) + "\r\n200\r\n" + body.prefix(512) + "\r\n0\r\n\r\n"
        let requests = Self.parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(Self.maxBody)\r\n\r\n" + body
            + "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked).requests
        #expect(requests.map(\.body.readableBytes) == [Self.maxBody, Self.maxBody])
    }

    @Test func refusalsAreAnsweredWithTheirStatus() {
        #expect(HTTPRequestRefusal.requestLineTooLong.status == .uriTooLong)
        #expect(HTTPRequestRefusal.headTooLarge.status == .requestHeaderFieldsTooLarge)
        #expect(HTTPRequestRefusal.versionNotSupported.status == .httpVersionNotSupported)
        #expect(HTTPRequestRefusal.transferCodingNotImplemented.status == .notImplemented)
        #expect(HTTPRequestRefusal.ambiguousFraming.status == .badRequest)
    }
}
