import NIOHTTP1

/// Why a request was refused before any route saw it (`HTTPRequestParser`), and the status it
/// is answered with. After the answer the connection is closed: the bytes after a request that
/// could not be framed cannot be framed either (a request smuggled behind it is never read).
public enum HTTPRequestRefusal: Error, Equatable, Sendable {
    /// The request line is not `method SP target SP HTTP-version`.
    case malformedRequestLine
    /// A header or trailer line is not `name: value` (a space before the colon, a name that is
    /// not a token, a control byte in the value).
    case malformedHeader
    /// A header line that starts with a space or a tab (obsolete line folding, RFC 9112 §5.2).
    case obsoleteLineFolding
    /// A line ended by a line feed without its carriage return.
    case bareLineFeed
    /// A `Content-Length` that is not one decimal number, or more than one.
    case invalidContentLength
    /// Both `Content-Length` and `Transfer-Encoding`, `Transfer-Encoding` in HTTP/1.0, or codings
    /// that do not end in `chunked`: the body's end is not certain (RFC 9112 §6.3).
    case ambiguousFraming
    /// A chunk whose size line or end is malformed.
    case malformedChunk
    /// An HTTP/1.1 request without exactly one `Host` (RFC 9112 §3.2), or an HTTP/1.0 one with two.
    case invalidHost
    /// The request line passed the head's size limit before it ended (414).
    case requestLineTooLong
    /// The head (request line and headers), its header count, or the trailers passed their limit (431).
    case headTooLarge
    /// The body passed the server's limit (413); refused before the rest of it is read.
    case bodyTooLarge
    /// A version other than HTTP/1.0 and HTTP/1.1 (505).
    case versionNotSupported
    /// A transfer coding other than `chunked` (501).
    case transferCodingNotImplemented

    public var status: HTTPResponseStatus {
        switch self {
        case .requestLineTooLong: .uriTooLong
        case .headTooLarge: .requestHeaderFieldsTooLarge
        case .bodyTooLarge: .payloadTooLarge
        case .versionNotSupported: .httpVersionNotSupported
        case .transferCodingNotImplemented: .notImplemented
        case .malformedRequestLine, .malformedHeader, .obsoleteLineFolding, .bareLineFeed, .invalidContentLength,
             .ambiguousFraming, .malformedChunk, .invalidHost: .badRequest
        }
    }
}
