import NIOHTTP1
import Nodes
import SPIFFE
import Testing

/// SPIKE's trail ids name each request in the events it causes: 8 lowercase alphanumerics, and
/// no two requests of a process alike (they come from a mixed count, not a random draw each).
@Suite struct TrailIDTests {
    @Test func eachRequestHasATrailOfItsOwn() throws {
        let peer = try SPIFFEID(parsing: "spiffe://spike.ist/spike/pilot/role/superuser")
        let trails = (0..<20_000).map { _ in HTTPRequest(method: .POST, uri: "/v1/store/secrets", peer: peer).trail }
        let alphabet = Set("abcdefghijklmnopqrstuvwxyz0123456789")
        #expect(trails.allSatisfy { $0.count == 8 && $0.allSatisfy(alphabet.contains) })
        #expect(Set(trails).count == trails.count)
        // Consecutive counts do not give trails that share a prefix or a suffix.
        #expect(Set(trails.map { $0.prefix(3) }).count > 10_000 && Set(trails.map { $0.suffix(3) }).count > 10_000)
    }
}
