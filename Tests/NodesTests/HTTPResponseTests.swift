import NIOCore
import NIOHTTP1
@testable import Nodes
import Testing

/// A JSON response's header lines are written once for the process: they must be the lines of
/// its headers, and a route that changes the headers gets its own lines written.
@Suite struct HTTPResponseTests {
    @Test func aJSONResponsesLinesAreItsHeadersLines() throws {
        var response = HTTPResponse.json(body: ByteBuffer(string: "{}"))
        let written = response.headers.lines()
        let lines = try #require(response.headerLines)
        #expect(lines == written)
        #expect(String(buffer: lines).contains("Cache-Control: no-store, no-cache, must-revalidate, private\r\n"))
        response.headers.replaceOrAdd(name: "Cache-Control", value: "no-store")
        #expect(response.headerLines == nil, "changed headers are written from the headers")
    }

    /// What the server writes for a response, the same whether its body had room for the head
    /// in front (the read route's, written in place) or not (copied after a head of its own).
    @Test(arguments: [(HTTPVersion.http1_1, HTTPResponseStatus.ok, true, false), (.http1_1, .ok, false, false), (.http1_1, .ok, true, true),
                      (.http1_0, .ok, true, false), (.http1_1, .notFound, false, false)])
    func aResponseIsWrittenTheSameWithOrWithoutHeadroom(version: HTTPVersion, status: HTTPResponseStatus, keepAlive: Bool, headOnly: Bool) throws {
        let json = #"{"data":{"password":"0123456789abcdef","username":"bench"}}"#
        var roomy = HTTPResponse.bodyWithHeadroom(capacity: 16)
        roomy.writeString(json)
        let inPlace = HTTPConnectionHandler.encode(.json(body: roomy, status: status), version: version, keepAlive: keepAlive,
                                                   headOnly: headOnly, allocator: ByteBufferAllocator())
        let copied = HTTPConnectionHandler.encode(.json(body: ByteBuffer(string: json), status: status), version: version, keepAlive: keepAlive,
                                                  headOnly: headOnly, allocator: ByteBufferAllocator())
        #expect(inPlace == copied)
        let statusLine = version == .http1_1 && status == .ok ? "HTTP/1.1 200 OK" : "HTTP/\(version.major).\(version.minor) \(status.code) \(status.reasonPhrase)"
        let expected = statusLine + "\r\nContent-Type: application/json\r\nCache-Control: no-store, no-cache, must-revalidate, private\r\n"
            + "Pragma: no-cache\r\nExpires: 0\r\nContent-Length: \(json.utf8.count)\r\n" + (keepAlive ? "" : "Connection: close\r\n")
            + "\r\n" + (headOnly ? "" : json)
        #expect(String(buffer: inPlace) == expected)
        // Written in place: the head went into the body's room, no buffer of its own.
        if !headOnly { #expect(inPlace.readerIndex > 0) }
    }
}
