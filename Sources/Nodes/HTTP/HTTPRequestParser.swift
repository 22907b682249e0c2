import NIOCore
import NIOHTTP1

/// HTTP/1.1 requests (RFC 9112) framed from the bytes of one connection, as they arrive: a
/// value holding the bytes not yet parsed, which hands out whole requests (head and body) one
/// at a time, and parses nothing until asked, so a connection that waits on an answer leaves
/// the requests behind it unread (ADR-0026).
///
/// It is strict where leniency lets a request be framed two ways (request smuggling): a line
/// ends with CRLF only, no space before a header's colon, no line folding, no control bytes in
/// a value, one `Content-Length` of digits, `Transfer-Encoding` only alone, only in HTTP/1.1 and
/// ending in `chunked`, exactly one `Host` in HTTP/1.1. Anything else is a `HTTPRequestRefusal`,
/// after which nothing more is parsed. Sizes are bounded before bytes are kept: the head (and the
/// trailers) by `maxHeadSize` and `maxHeaderCount`, a chunk's size line, and the body by
/// `maxBodySize` (a declared length over it is refused before the body is sent).
public struct HTTPRequestParser: Sendable {
    /// A request's line and headers, and whether the connection stays open after its answer.
    public struct Head: Sendable {
        public var method: HTTPMethod
        /// The target's path, before the first `?`.
        public var path: String
        /// The target's query, after the first `?` (nil without one). Kept apart from the path
        /// as the bytes are read: one string less for every request (a query is short enough
        /// to be a small string, held without an allocation).
        public var query: String?
        /// 1.0 or 1.1.
        public var version: HTTPVersion
        /// The header lines as they came, each ended by CRLF (checked, not yet split: a route
        /// rarely reads a header, so no string is made for one until it does).
        public var headerLines = ByteBuffer()
        public var keepAlive: Bool

        public var headers: HTTPHeaders { HTTPRequestParser.headers(in: headerLines) }

        /// The request target as it came.
        public var uri: String { query.map { "\(path)?\($0)" } ?? path }
    }

    public struct Request: Sendable {
        public var head: Head
        public var body: ByteBuffer
    }

    public enum Next: Sendable {
        case request(Request)
        /// Refused; `head` when it was read (a body too large). Nothing more is parsed.
        case refused(HTTPRequestRefusal, head: Head?)
        case needMoreBytes
    }

    public let maxBodySize: Int
    public let maxHeadSize: Int
    public let maxHeaderCount: Int
    /// The longest chunk size line, extensions included.
    public static let maxChunkLineSize = 1024

    private enum Stage {
        case head
        case body(length: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case refused
    }

    private var stage = Stage.head
    /// The bytes read and not yet parsed.
    private var buffer = ByteBuffer()
    /// How far the lines being looked for (the head, the trailers) were checked, and where the
    /// current one starts, from `buffer`'s reader index: bytes arriving one at a time are looked
    /// at once each.
    private var scanned = 0
    private var lineStart = 0
    private var head: Head?
    private var body = ByteBuffer()

    public init(maxBodySize: Int, maxHeadSize: Int = 16 * 1024, maxHeaderCount: Int = 100) {
        self.maxBodySize = maxBodySize
        self.maxHeadSize = maxHeadSize
        self.maxHeaderCount = maxHeaderCount
    }

    /// Whether bytes wait to be parsed.
    public var hasUnparsedBytes: Bool { buffer.readableBytes > 0 }

    /// Bytes read from the connection, kept until parsed (taken as they are when nothing waits:
    /// a request that arrives whole is never copied).
    public mutating func append(_ bytes: inout ByteBuffer) {
        if case .refused = stage { return }
        if buffer.readableBytes == 0 {
            buffer = bytes
        } else {
            if buffer.readerIndex > 4096 { buffer.discardReadBytes() }
            buffer.writeBuffer(&bytes)
        }
    }

    /// The next whole request, a refusal, or `needMoreBytes`.
    public mutating func next() -> Next {
        while true {
            switch stage {
            case .refused:
                return .needMoreBytes
            case .head:
                switch scanLines(limit: maxHeadSize, skippingLeadingEmptyLines: true) {
                case .needMoreBytes: return .needMoreBytes
                case .refused(let refusal): return refuse(refusal)
                case .found(let length):
                    let parsed = buffer.withUnsafeReadableBytes { parseHead(UnsafeRawBufferPointer(rebasing: $0[..<length])) }
                    switch consume parsed {
                    case .failure(let refusal):
                        return refuse(refusal)
                    case .success(let (head, framing, lines)):
                        self.head = consume head
                        self.head!.headerLines = buffer.getSlice(at: buffer.readerIndex + lines.lowerBound, length: lines.count)!
                        buffer.moveReaderIndex(forwardBy: length)
                        switch framing {
                        case .length(0):
                            return finish(body: ByteBuffer())
                        case .length(let length):
                            guard length <= maxBodySize else { return refuse(.bodyTooLarge) }
                            stage = .body(length: length)
                        case .chunked:
                            body = ByteBuffer()
                            stage = .chunkSize
                        }
                    }
                }
            case .body(let length):
                guard buffer.readableBytes >= length, let body = buffer.readSlice(length: length) else { return .needMoreBytes }
                return finish(body: body)
            case .chunkSize:
                switch scanLines(limit: Self.maxChunkLineSize, skippingLeadingEmptyLines: false, oneLine: true) {
                case .needMoreBytes: return .needMoreBytes
                case .refused(.bareLineFeed): return refuse(.bareLineFeed)
                case .refused: return refuse(.malformedChunk)
                case .found(let length):
                    let size = buffer.withUnsafeReadableBytes { Self.chunkSize(UnsafeRawBufferPointer(rebasing: $0[..<(length - 2)])) }
                    buffer.moveReaderIndex(forwardBy: length)
                    guard let size else { return refuse(.malformedChunk) }
                    if size == 0 {
                        stage = .trailers
                    } else {
                        guard size <= maxBodySize - body.readableBytes else { return refuse(.bodyTooLarge) }
                        stage = .chunkData(remaining: size)
                    }
                }
            case .chunkData(let remaining):
                let count = min(remaining, buffer.readableBytes)
                guard count > 0, var data = buffer.readSlice(length: count) else { return .needMoreBytes }
                body.writeBuffer(&data)
                stage = count == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - count)
            case .chunkDataEnd:
                guard let end = buffer.readInteger(as: UInt16.self) else { return .needMoreBytes }
                guard end == UInt16(Self.cr) << 8 | UInt16(Self.lf) else { return refuse(.malformedChunk) }
                stage = .chunkSize
            case .trailers:
                switch scanLines(limit: maxHeadSize, skippingLeadingEmptyLines: false) {
                case .needMoreBytes: return .needMoreBytes
                // A first trailer line past the limit is no request line: the trailers are too large.
                case .refused(.requestLineTooLong): return refuse(.headTooLarge)
                case .refused(let refusal): return refuse(refusal)
                case .found(let length):
                    // Trailers are checked as header lines, and dropped: no route reads them.
                    let valid = buffer.withUnsafeReadableBytes { bytes in
                        var lines = Lines(UnsafeRawBufferPointer(rebasing: bytes[..<length]))
                        while let line = lines.next(), !line.isEmpty {
                            guard case .success = Self.headerField(line) else { return false }
                        }
                        return true
                    }
                    buffer.moveReaderIndex(forwardBy: length)
                    guard valid else { return refuse(.malformedHeader) }
                    let body = self.body
                    self.body = ByteBuffer()
                    return finish(body: body)
                }
            }
        }
    }

    private mutating func finish(body: ByteBuffer) -> Next {
        // Moved out, not copied: the head's strings and buffers are retained once.
        let request = Request(head: head.take()!, body: body)
        stage = .head
        if buffer.readableBytes == 0 { buffer = ByteBuffer() }
        return .request(request)
    }

    private mutating func refuse(_ refusal: HTTPRequestRefusal) -> Next {
        stage = .refused
        buffer = ByteBuffer()
        body = ByteBuffer()
        return .refused(refusal, head: refusal == .bodyTooLarge ? head : nil)
    }

    // MARK: - Lines

    private enum LineScan {
        /// The bytes up to and including the empty line (or the first line, `oneLine`).
        case found(length: Int)
        case refused(HTTPRequestRefusal)
        case needMoreBytes
    }

    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    /// Looks for the end of a block of CRLF lines ended by an empty one (or for one line), from
    /// where the last look stopped; every line feed must follow a carriage return. Leading empty
    /// lines before a request line are dropped (RFC 9112 §2.2).
    private mutating func scanLines(limit: Int, skippingLeadingEmptyLines: Bool, oneLine: Bool = false) -> LineScan {
        while true {
            let (scan, skip) = buffer.withUnsafeReadableBytes { bytes -> (LineScan, Int) in
                // Past the limit, ended or not: the first line is a request line or a chunk's size.
                var tooLong: LineScan { .refused(lineStart == 0 ? (oneLine ? .malformedChunk : .requestLineTooLong) : .headTooLarge) }
                var index = scanned
                while index < bytes.count {
                    if bytes[index] == Self.lf {
                        guard index > 0, bytes[index - 1] == Self.cr, index - 1 >= lineStart else {
                            return (.refused(.bareLineFeed), 0)
                        }
                        guard index < limit else { return (tooLong, 0) }
                        if oneLine { return (.found(length: index + 1), 0) }
                        if index - 1 == lineStart {
                            if lineStart == 0, skippingLeadingEmptyLines { return (.needMoreBytes, index + 1) }
                            return (.found(length: index + 1), 0)
                        }
                        lineStart = index + 1
                    }
                    index += 1
                }
                scanned = index
                return (bytes.count <= limit ? .needMoreBytes : tooLong, 0)
            }
            if skip > 0 {
                buffer.moveReaderIndex(forwardBy: skip)
                scanned = 0
                continue
            }
            if case .found = scan {
                scanned = 0
                lineStart = 0
            }
            return scan
        }
    }

    /// The CRLF-ended lines of a block, without their CRLF.
    private struct Lines {
        let bytes: UnsafeRawBufferPointer
        var start = 0

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func next() -> UnsafeRawBufferPointer? {
            guard start < bytes.count else { return nil }
            var end = start
            while bytes[end] != HTTPRequestParser.lf { end += 1 }
            defer { start = end + 1 }
            return UnsafeRawBufferPointer(rebasing: bytes[start..<(end - 1)])
        }
    }

    // MARK: - The head

    private enum Framing {
        case length(Int)
        case chunked
    }

    /// The request line and headers of a head whose lines are known to end in CRLF, the last one
    /// empty, and where its header lines lie in it.
    private func parseHead(_ bytes: UnsafeRawBufferPointer) -> Result<(Head, Framing, lines: Range<Int>), HTTPRequestRefusal> {
        var lines = Lines(bytes)
        guard let requestLine = lines.next() else { return .failure(.malformedRequestLine) }
        let method: HTTPMethod, path: String, query: String?, version: HTTPVersion
        switch Self.requestLine(requestLine) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let line): (method, path, query, version) = line
        }
        var contentLength: Int?
        var transferEncoding: String?
        var close = false, keepAliveAsked = false
        var hosts = 0, count = 0
        while let line = lines.next(), !line.isEmpty {
            count += 1
            guard count <= maxHeaderCount else { return .failure(.headTooLarge) }
            let name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer
            switch Self.headerField(line) {
            case .failure(let refusal): return .failure(refusal)
            case .success(let field): (name, value) = field
            }
            if Self.name(name, is: "content-length") {
                guard contentLength == nil, let length = Self.decimal(value) else { return .failure(.invalidContentLength) }
                contentLength = length
            } else if Self.name(name, is: "transfer-encoding") {
                guard transferEncoding == nil else { return .failure(.ambiguousFraming) }
                transferEncoding = String(decoding: value, as: UTF8.self)
            } else if Self.name(name, is: "connection") {
                for option in String(decoding: value, as: UTF8.self).split(separator: ",") {
                    let option = option.trimmingOWS.lowercased()
                    if option == "close" { close = true }
                    if option == "keep-alive" { keepAliveAsked = true }
                }
            } else if Self.name(name, is: "host") {
                hosts += 1
            }
        }
        guard hosts == 1 || (version.minor == 0 && hosts == 0) else { return .failure(.invalidHost) }
        let framing: Framing
        if let transferEncoding {
            guard contentLength == nil, version.minor >= 1 else { return .failure(.ambiguousFraming) }
            let codings = transferEncoding.split(separator: ",").map { $0.trimmingOWS.lowercased() }.filter { !$0.isEmpty }
            guard codings.last == "chunked" else { return .failure(.ambiguousFraming) }
            guard codings.count == 1 else { return .failure(.transferCodingNotImplemented) }
            framing = .chunked
        } else {
            framing = .length(contentLength ?? 0)
        }
        let keepAlive = !close && (version.minor >= 1 || keepAliveAsked)
        return .success((Head(method: method, path: path, query: query, version: version, keepAlive: keepAlive), framing,
                         (requestLine.count + 2)..<(bytes.count - 2)))
    }

    /// The headers of lines `parseHead` checked.
    static func headers(in lines: ByteBuffer) -> HTTPHeaders {
        lines.withUnsafeReadableBytes { bytes in
            var headers = HTTPHeaders()
            var lines = Lines(bytes)
            while let line = lines.next(), case .success(let (name, value)) = headerField(line) {
                headers.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
            }
            return headers
        }
    }

    /// `method SP request-target SP HTTP/1.x`.
    private static func requestLine(_ line: UnsafeRawBufferPointer) -> Result<(HTTPMethod, String, String?, HTTPVersion), HTTPRequestRefusal> {
        var index = 0
        while index < line.count, isToken(line[index]) { index += 1 }
        let methodEnd = index
        guard methodEnd > 0, index < line.count, line[index] == UInt8(ascii: " ") else { return .failure(.malformedRequestLine) }
        index += 1
        let targetStart = index
        // Visible ASCII only: no spaces, controls or raw bytes past 0x7E in the target.
        while index < line.count, (0x21...0x7E).contains(line[index]) { index += 1 }
        let targetEnd = index
        guard targetEnd > targetStart, index < line.count, line[index] == UInt8(ascii: " ") else { return .failure(.malformedRequestLine) }
        index += 1
        let version = UnsafeRawBufferPointer(rebasing: line[index...])
        guard version.count == 8, equals(UnsafeRawBufferPointer(rebasing: version[..<5]), "HTTP/"), version[6] == UInt8(ascii: "."),
              let major = digit(version[5]), let minor = digit(version[7]) else { return .failure(.malformedRequestLine) }
        guard major == 1, minor <= 1 else { return .failure(.versionNotSupported) }
        let (path, query) = target(UnsafeRawBufferPointer(rebasing: line[targetStart..<targetEnd]))
        return .success((method(UnsafeRawBufferPointer(rebasing: line[..<methodEnd])), path, query, HTTPVersion(major: 1, minor: minor)))
    }

    /// A request target's path and query (after the first `?`; nil without one), split on the
    /// bytes as Go's url.Parse does.
    static func target(_ target: UnsafeRawBufferPointer) -> (path: String, query: String?) {
        let mark = target.firstIndex(of: UInt8(ascii: "?"))
        return (String(decoding: UnsafeRawBufferPointer(rebasing: target[..<(mark ?? target.count)]), as: UTF8.self),
                mark.map { String(decoding: UnsafeRawBufferPointer(rebasing: target[($0 + 1)...]), as: UTF8.self) })
    }

    private static func method(_ name: UnsafeRawBufferPointer) -> HTTPMethod {
        // The methods our routes use, without a string made for them.
        if equals(name, "POST") { return .POST }
        if equals(name, "GET") { return .GET }
        if equals(name, "PUT") { return .PUT }
        if equals(name, "DELETE") { return .DELETE }
        if equals(name, "HEAD") { return .HEAD }
        return HTTPMethod(rawValue: String(decoding: name, as: UTF8.self))
    }

    /// Whether `bytes` are `text`'s (a comparison of the bytes, not of two generic sequences).
    private static func equals(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
        bytes.elementsEqual(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// `name ":" OWS value OWS`: the name a token, the value visible bytes, spaces and tabs
    /// (obsolete text past 0x7F kept as it is).
    private static func headerField(_ line: UnsafeRawBufferPointer) -> Result<(UnsafeRawBufferPointer, UnsafeRawBufferPointer), HTTPRequestRefusal> {
        guard let first = line.first else { return .failure(.malformedHeader) }
        if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { return .failure(.obsoleteLineFolding) }
        var index = 0
        while index < line.count, isToken(line[index]) { index += 1 }
        guard index > 0, index < line.count, line[index] == UInt8(ascii: ":") else { return .failure(.malformedHeader) }
        let name = UnsafeRawBufferPointer(rebasing: line[..<index])
        index += 1
        while index < line.count, isWhitespace(line[index]) { index += 1 }
        var end = line.count
        while end > index, isWhitespace(line[end - 1]) { end -= 1 }
        guard line[index..<end].allSatisfy(isFieldText) else { return .failure(.malformedHeader) }
        return .success((name, UnsafeRawBufferPointer(rebasing: line[index..<end])))
    }

    /// A chunk size line: hex digits, then nothing or extensions after `;` (their text not read, but
    /// no control bytes in it). Nil when malformed; a size past what any body may hold is
    /// `Int.max` (refused as too large, not as malformed).
    private static func chunkSize(_ line: UnsafeRawBufferPointer) -> Int? {
        var size = 0, index = 0
        while index < line.count, let value = hexDigit(line[index]) {
            size = size > (Int.max >> 4) ? Int.max : size << 4 | value
            index += 1
        }
        guard index > 0 else { return nil }
        if index < line.count {
            // BWS then `;` then the extensions.
            while index < line.count, isWhitespace(line[index]) { index += 1 }
            guard index < line.count, line[index] == UInt8(ascii: ";") else { return nil }
            guard line[index...].allSatisfy(isFieldText) else { return nil }
        }
        return size
    }

    /// One or more decimal digits; a value past 15 digits is `Int.max` (too large, not malformed).
    private static func decimal(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty else { return nil }
        var value = 0
        for byte in bytes {
            guard let digit = digit(byte) else { return nil }
            value = value > 99_999_999_999_999 ? Int.max : value * 10 + digit
        }
        return value
    }

    private static func name(_ name: UnsafeRawBufferPointer, is lowercase: StaticString) -> Bool {
        guard name.count == lowercase.utf8CodeUnitCount else { return false }
        // A token's bytes are letters, digits and marks: setting 0x20 lowers only the letters.
        let expected = UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        for index in 0..<name.count where name[index] | 0x20 != expected[index] { return false }
        return true
    }

    private static func digit(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }

    private static func hexDigit(_ byte: UInt8) -> Int? {
        if let digit = digit(byte) { return digit }
        let lower = byte | 0x20
        return (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(lower) ? Int(lower - UInt8(ascii: "a")) + 10 : nil
    }

    /// A byte of a field value or a chunk extension: visible, a space or a tab, or obsolete text
    /// past 0x7F; no other control byte, no DEL.
    private static func isFieldText(_ byte: UInt8) -> Bool {
        (byte >= 0x20 && byte != 0x7F) || byte == UInt8(ascii: "\t")
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// RFC 9110 §5.6.2's `tchar`: a bit of `tokenBits` per byte below 128 (every method and
    /// header name is scanned byte by byte with it).
    private static func isToken(_ byte: UInt8) -> Bool {
        byte < 64 ? tokenBits.low >> byte & 1 == 1 : byte < 128 && tokenBits.high >> (byte - 64) & 1 == 1
    }

    /// The bits of ``!#$%&'*+-.^_`|~``, digits and letters (`HTTPRequestParserTests` checks them
    /// against that list). Literals, not a closure: a global made by a closure is read through
    /// `swift_once` on every access, here every byte of every method and header name.
    private static let tokenBits: (low: UInt64, high: UInt64) = (0x03FF_6CFA_0000_0000, 0x57FF_FFFF_C7FF_FFFE)
}

private extension Substring {
    /// Without the spaces and tabs around it (RFC 9110's OWS).
    var trimmingOWS: Substring {
        var text = self
        while let first = text.utf8.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { text = text.dropFirst() }
        while let last = text.utf8.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { text = text.dropLast() }
        return text
    }
}
