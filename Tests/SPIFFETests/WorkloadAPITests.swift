import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Testing
@testable import SPIFFE
import SPIFFEWorkloadAPI

/// The Workload API over gRPC on a real Unix socket: our source against our server.
@Suite struct WorkloadAPITests {
    let ca: DevelopmentCA
    let id = try! SPIFFEID(parsing: "spiffe://example.org/workload/a")

    init() throws {
        ca = try DevelopmentCA(trustDomain: TrustDomain(parsing: "example.org"))
    }

    /// Runs a Workload API server on a fresh socket for the duration of `body`.
    private func withServer<T: Sendable>(
        _ source: StaticX509Source, _ body: @Sendable (WorkloadAPIEndpoint) async throws -> T
    ) async throws -> T {
        let path = "/tmp/spk-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer { unlink(path) }
        let service = WorkloadAPIService(source: source, updateCheck: .milliseconds(50))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            let listening = AsyncStream<Void>.makeStream()
            group.addTask {
                try await service.serve(socketPath: path) { listening.continuation.yield() }
                return nil
            }
            for await _ in listening.stream { break }
            let result = try await body(WorkloadAPIEndpoint(socketPath: path))
            group.cancelAll()
            return result
        }
    }

    @Test func sourceReceivesTheSVIDAndItsRotations() async throws {
        let server = StaticX509Source(svid: try ca.issue(id), bundles: X509BundleSet([ca.bundle]))
        try await withServer(server) { endpoint in
            let source = try await WorkloadAPIX509Source(endpoint: endpoint, firstSVIDTimeout: .seconds(10))
            defer { source.close() }
            let first = try source.material()
            #expect(first.svid.id == id)
            #expect(first.svid.certificates == server.material().svid.certificates)
            #expect(first.bundles[ca.trustDomain]?.authorities == [ca.certificate])

            server.update(svid: try ca.issue(id))
            let deadline = ContinuousClock.now + .seconds(10)
            while try source.material().svid.certificates != server.material().svid.certificates, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try source.material().svid.certificates == server.material().svid.certificates)
            #expect(try source.material().generation > first.generation)
        }
    }

    @Test func sourceReconnectsWhenTheAgentComesBack() async throws {
        let path = "/tmp/spk-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer { unlink(path) }
        let firstAgent = StaticX509Source(svid: try ca.issue(id), bundles: X509BundleSet([ca.bundle]))
        let secondAgent = StaticX509Source(svid: try ca.issue(id), bundles: X509BundleSet([ca.bundle]))
        func serve(_ source: StaticX509Source) async -> Task<Void, any Error> {
            let listening = AsyncStream<Void>.makeStream()
            let task = Task {
                try await WorkloadAPIService(source: source, updateCheck: .milliseconds(50)).serve(socketPath: path) {
                    listening.continuation.yield()
                }
            }
            for await _ in listening.stream { break }
            return task
        }
        let first = await serve(firstAgent)
        let source = try await WorkloadAPIX509Source(endpoint: WorkloadAPIEndpoint(socketPath: path), firstSVIDTimeout: .seconds(10))
        defer { source.close() }
        #expect(try source.material().svid.certificates == firstAgent.material().svid.certificates)

        // The agent goes away: the last SVID stays usable meanwhile.
        first.cancel()
        _ = await first.result
        unlink(path)
        #expect(try source.material().svid.certificates == firstAgent.material().svid.certificates)

        // A new agent on the same socket: the source finds it after its backoff.
        let second = await serve(secondAgent)
        defer { second.cancel() }
        let deadline = ContinuousClock.now + .seconds(15)
        while try source.material().svid.certificates != secondAgent.material().svid.certificates, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try source.material().svid.certificates == secondAgent.material().svid.certificates)
    }

    @Test func requestsWithoutTheSecurityHeaderGetInvalidArgument() async throws {
        let server = StaticX509Source(svid: try ca.issue(id), bundles: X509BundleSet([ca.bundle]))
        try await withServer(server) { endpoint in
            let transport = try HTTP2ClientTransport.Posix(target: .unixDomainSocket(path: endpoint.socketPath), transportSecurity: .plaintext)
            _ = try await withGRPCClient(transport: transport) { client in
                await #expect {
                    try await client.serverStreaming(
                        request: ClientRequest(message: EmptyRequest()),
                        descriptor: WorkloadAPIMethods.fetchX509SVID,
                        serializer: EmptyRequestCodec(), deserializer: WorkloadAPICodec<WorkloadAPI.X509SVIDResponse>(), options: .defaults
                    ) { response in
                        for try await _ in response.messages {}
                    }
                } throws: { error in
                    (error as? RPCError)?.code == .invalidArgument
                }
            }
        }
    }

    @Test func noAgentIsAClearErrorWithinTheTimeout() async throws {
        let start = ContinuousClock.now
        await #expect {
            try await WorkloadAPIX509Source(endpoint: WorkloadAPIEndpoint(socketPath: "/tmp/spk-none-\(UUID().uuidString.prefix(8)).sock"),
                                            firstSVIDTimeout: .milliseconds(500))
        } throws: { error in
            "\(error)".contains("no X.509-SVID from the Workload API") && "\(error)".contains("is the agent running")
        }
        // It gives up, not waits for ever: a bound far above the timeout, since a loaded CI
        // machine was seen to take 5.7 s over a 0.5 s timeout (starved, not waiting on a socket).
        #expect(start.duration(to: .now) < .seconds(20))
    }

    @Test func endpointURIsFollowTheStandard() throws {
        #expect(try WorkloadAPIEndpoint(parsing: "unix:///tmp/agent.sock").socketPath == "/tmp/agent.sock")
        #expect(try WorkloadAPIEndpoint(parsing: "unix:/tmp/agent.sock").socketPath == "/tmp/agent.sock")
        for bad in ["", "tcp://127.0.0.1:8000", "unix://host/tmp/a.sock", "unix:///tmp/a.sock?x=1", "unix://", "/tmp/a.sock"] {
            #expect(throws: SPIFFEError.self) { try WorkloadAPIEndpoint(parsing: bad) }
        }
        #expect(throws: SPIFFEError.self) { try WorkloadAPIEndpoint.fromEnvironment([:]) }
        #expect(try WorkloadAPIEndpoint.fromEnvironment(["SPIFFE_ENDPOINT_SOCKET": "unix:///x/y"]).socketPath == "/x/y")
    }
}
