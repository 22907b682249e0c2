import Foundation
import NIOHTTP1
import Nodes
import SpikeClient
import Testing

/// `HTTPConnectionPool` against a real Nexus over mutual TLS, through a TCP proxy that counts the
/// connections the server is given: requests reuse kept-alive connections, at most so many at
/// once, and a request's failure costs its connection only.
@Suite(.serialized) struct ConnectionPoolTests {
    static let superuser = "/spike/pilot/role/superuser"
    static let get = Array(#"{"path":"apps/db"}"#.utf8)

    /// A serving Nexus holding one secret, the superuser's client, and a counting proxy to it.
    static func withProxiedNexus(_ body: (HTTPClient, _ url: String, TCPProxy) async throws -> Void) async throws {
        let nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let client = try nexus.client(Self.superuser)
            #expect(try await nexus.post(client, "/v1/store/secrets", #"{"path":"apps/db","values":{"k":"v"}}"#).0 == 200)
            let proxy = try TCPProxy(to: nexus.nexus.port)
            defer { proxy.close() }
            try await body(client, "https://127.0.0.1:\(proxy.port)", proxy)
        }
    }

    @Test func requestsReuseOneConnectionWhereEachWouldMakeItsOwn() async throws {
        try await Self.withProxiedNexus { client, url, proxy in
            let pool = HTTPConnectionPool(client: client, maxPerEndpoint: 1)
            for _ in 0..<20 {
                let response = try await pool.post(url, path: "/v1/store/secrets?action=get", body: Self.get)
                #expect(response.status == .ok && String(decoding: response.body, as: UTF8.self) == #"{"data":{"k":"v"}}"#)
            }
            #expect(proxy.connections == 1)
            #expect(pool.statistics.connectionsOpened == 1 && pool.statistics.requests == 20)
            pool.close()
            // The baseline: the client's request-per-connection.
            for _ in 0..<5 { #expect(try await client.post(url, path: "/v1/store/secrets?action=get", body: Self.get).status == .ok) }
            #expect(proxy.connections == 6)
        }
    }

    @Test func concurrentRequestsOpenAtMostMaxConnections() async throws {
        try await Self.withProxiedNexus { client, url, proxy in
            let pool = HTTPConnectionPool(client: client, maxPerEndpoint: 3)
            defer { pool.close() }
            let statuses = try await withThrowingTaskGroup(of: HTTPResponseStatus.self) { group in
                for _ in 0..<60 { group.addTask { try await pool.post(url, path: "/v1/store/secrets?action=get", body: Self.get).status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.count == 60 && statuses.allSatisfy { $0 == .ok })
            #expect((1...3).contains(proxy.connections), "\(proxy.connections) connections")
            #expect(pool.statistics.connectionsOpened == proxy.connections)
        }
    }

    /// A connection idle for longer than `maxIdle` (the server may have closed it meanwhile) is
    /// closed, not reused; a closed pool refuses requests.
    @Test func anIdleConnectionIsNotReusedAndAClosedPoolRefuses() async throws {
        try await Self.withProxiedNexus { client, url, proxy in
            let pool = HTTPConnectionPool(client: client, maxPerEndpoint: 1, maxIdle: .milliseconds(200))
            defer { pool.close() }
            #expect(try await pool.get(url, path: "/healthz").status == .ok)
            // Idle past maxIdle: closed rather than reused.
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await pool.get(url, path: "/healthz").status == .ok)
            #expect(proxy.connections == 2 && pool.statistics.connectionsOpened == 2)
            // A request on a closed pool is refused as such.
            pool.close()
            await #expect(throws: HTTPClientError.noResponse("the connection pool is closed")) {
                try await pool.get(url, path: "/healthz")
            }
        }
    }
}
