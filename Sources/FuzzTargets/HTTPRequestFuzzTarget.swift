import NIOCore
import NIOEmbedded
import NIOHTTP1
import Nodes

/// The server's HTTP/1.1 framing (`HTTPRequestParser`) fed the bytes a peer sends on one
/// connection. The first byte picks the size of the pieces the rest arrives in. What must hold:
/// no crash; the same requests and the same refusal however the bytes are cut; and against
/// llhttp (NIO's parser, the one the Nexus used before, and what a proxy in front of it may
/// run), no request framed differently: where both frame the n-th request, it has the same
/// method, target and body, and where both read the bytes to their end without refusing, they
/// framed as many requests. A difference there is a request one of them would smuggle past the
/// other.
public final class HTTPRequestFuzzTarget: FuzzTarget {
    public static let name = "http-request"
    static let maxBodySize = 4096

    public init() {}

    /// What a parser made of the bytes: the requests, and the error it stopped on.
    public struct Framing: Equatable, Sendable {
        public var requests: [Framed] = []
        public var refusal: String?
    }

    public struct Framed: Equatable, Sendable {
        public var method: String
        public var uri: String
        public var body: [UInt8]
        public var closes: Bool
    }

    public func run(_ input: [UInt8]) throws(FuzzFinding) {
        guard let first = input.first else { return }
        let bytes = Array(input.dropFirst())
        let whole = Self.ours(bytes, piece: max(1, bytes.count))
        let cut = Self.ours(bytes, piece: Int(first) % 64 + 1)
        guard whole == cut else {
            throw FuzzFinding(Self.name, "framed \(whole) whole and \(cut) in pieces of \(Int(first) % 64 + 1)")
        }
        let theirs = Self.llhttp(bytes)
        // The framing, not whether the connection stays open after it (llhttp keeps an HTTP/1.0
        // connection that asks for both keep-alive and close; the server closes it).
        for (index, (ours, theirs)) in zip(whole.requests, theirs.requests).enumerated()
        where (ours.method, ours.uri, ours.body) != (theirs.method, theirs.uri, theirs.body) {
            throw FuzzFinding(Self.name, "request \(index): framed \(ours), llhttp framed \(theirs)")
        }
        // Counts differ legitimately only once a request closes the connection (llhttp stops
        // there; so does the server, after answering it).
        if whole.refusal == nil, theirs.refusal == nil, whole.requests.count != theirs.requests.count,
           !whole.requests.contains(where: \.closes), !theirs.requests.contains(where: \.closes) {
            throw FuzzFinding(Self.name, "framed \(whole.requests.count) requests, llhttp framed \(theirs.requests.count)")
        }
    }

    public static func ours(_ bytes: [UInt8], piece: Int) -> Framing {
        var parser = HTTPRequestParser(maxBodySize: maxBodySize)
        var framing = Framing()
        var start = 0
        repeat {
            let end = min(bytes.count, start + piece)
            var buffer = ByteBuffer(bytes: bytes[start..<end])
            parser.append(&buffer)
            start = end
            parsing: while true {
                switch parser.next() {
                case .request(let request):
                    framing.requests.append(Framed(method: request.head.method.rawValue, uri: request.head.uri,
                                                   body: Array(request.body.readableBytesView), closes: !request.head.keepAlive
                                                       || request.head.method == .CONNECT || request.head.headers.contains(name: "Upgrade")))
                case .refused(let refusal, _):
                    framing.refusal = "\(refusal)"
                    return framing
                case .needMoreBytes:
                    break parsing
                }
            }
        } while start < bytes.count
        return framing
    }

    /// The same bytes through NIO's request decoder (llhttp), in one piece.
    public static func llhttp(_ bytes: [UInt8]) -> Framing {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder()))
        defer { _ = try? channel.finish() }
        var framing = Framing()
        do {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
        } catch {
            framing.refusal = "\(error)"
        }
        var current: Framed?
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head):
                current = Framed(method: head.method.rawValue, uri: head.uri, body: [], closes: !head.isKeepAlive
                                 || head.method == .CONNECT || head.headers.contains(name: "Upgrade"))
            case .body(let body):
                current?.body += body.readableBytesView
            case .end:
                if let request = current { framing.requests.append(request) }
                current = nil
            }
        }
        return framing
    }

    public static func seeds() -> [[UInt8]] {
        let requests = [
            "POST /v1/store/secrets?action=get HTTP/1.1\r\nHost: nexus\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"path\":\"a/b\"}\n",
            "GET /healthz HTTP/1.1\r\nHost: nexus\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n",
            "POST /v1/cipher/encrypt HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;a=b\r\n \r\n0\r\nX-T: 1\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: n\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "\r\nDELETE /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        ]
        return requests.enumerated().map { [UInt8($0.offset * 7)] + Array($0.element.utf8) }
    }
}
