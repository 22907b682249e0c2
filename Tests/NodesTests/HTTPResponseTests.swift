import NIOCore
import NIOHTTP1
@testable import Nodes
import Testing

/// A JSON response's header lines are written once for the process: they must be the lines of
/// its headers, and a route that changes the headers gets its own lines written.
@Suite struct HTTPResponseTests {
    @Test func aJSONResponsesLinesAreItsHeadersLines() throws {
        var response = HTTPResponse.json(body: ByteBuffer(string: "{}"))
        var written = ByteBuffer()
        response.headers.writeLines(to: &written)
        let lines = try #require(response.headerLines)
        #expect(lines == written)
        #expect(String(buffer: lines).contains("Cache-Control: no-store, no-cache, must-revalidate, private\r\n"))
        response.headers.replaceOrAdd(name: "Cache-Control", value: "no-store")
        #expect(response.headerLines == nil, "changed headers are written from the headers")
    }
}
