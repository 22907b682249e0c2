import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import SPIFFE
import Synchronization

/// An `X509Source` fed by the SPIFFE Workload API: it streams `FetchX509SVID` over the Unix
/// socket and takes each message as the whole new state (rotation); when the stream breaks it
/// reconnects with a backoff of 1 s, 2 s, … up to 30 s, keeping the last SVID meanwhile.
public final class WorkloadAPIX509Source: X509Source {
    public let endpoint: WorkloadAPIEndpoint
    private let state = StreamState()
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Connects and waits for the first SVID; fails clearly if none comes within `timeout`.
    public init(endpoint: WorkloadAPIEndpoint, firstSVIDTimeout timeout: Duration = .seconds(30)) async throws(SPIFFEError) {
        self.endpoint = endpoint
        let runner = Task { [state, endpoint] in await Self.run(endpoint: endpoint, state: state) }
        task.withLock { $0 = runner }
        let deadline = ContinuousClock.now + timeout
        while state.value.withLock({ $0.material }) == nil {
            if ContinuousClock.now >= deadline {
                runner.cancel()
                let reason = state.value.withLock { $0.lastError } ?? "no answer"
                throw .sourceUnavailable("no X.509-SVID from the Workload API at \(endpoint) within \(timeout) (\(reason)); is the agent running?")
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    deinit { close() }

    public func material() throws(SPIFFEError) -> X509Material {
        guard let material = state.value.withLock({ $0.material }) else {
            throw .sourceUnavailable("no X.509-SVID from the Workload API at \(endpoint) yet")
        }
        return material
    }

    /// Stops watching for updates.
    public func close() {
        task.withLock { $0?.cancel() }
    }

    private static func run(
        endpoint: WorkloadAPIEndpoint,
        state: StreamState
    ) async {
        var backoff = 0
        while !Task.isCancelled {
            do {
                let transport = try HTTP2ClientTransport.Posix(
                    target: .unixDomainSocket(path: endpoint.socketPath), transportSecurity: .plaintext)
                let received = try await withGRPCClient(transport: transport) { client in
                    var metadata = Metadata()
                    metadata.addString(WorkloadAPI.securityHeader.value, forKey: WorkloadAPI.securityHeader.name)
                    return try await client.serverStreaming(
                        request: ClientRequest(message: EmptyRequest(), metadata: metadata),
                        descriptor: WorkloadAPIMethods.fetchX509SVID,
                        serializer: EmptyRequestCodec(), deserializer: WorkloadAPICodec<WorkloadAPI.X509SVIDResponse>(),
                        options: .defaults
                    ) { response in
                        var count = 0
                        for try await message in response.messages {
                            let generation = state.value.withLock { $0.generation + 1 }
                            let material = try message.material(generation: generation)
                            state.value.withLock { $0 = (material, nil, generation) }
                            count += 1
                        }
                        return count
                    }
                }
                if received > 0 { backoff = 0 }
                state.value.withLock { $0.lastError = "the Workload API closed the stream" }
            } catch {
                state.value.withLock { $0.lastError = "\(error)" }
            }
            backoff = min(backoff + 1, 30)
            try? await Task.sleep(for: .seconds(backoff))
        }
    }
}

/// The latest material and the last failure, shared by the source and its streaming task.
private final class StreamState: Sendable {
    let value = Mutex<(material: X509Material?, lastError: String?, generation: UInt64)>((nil, nil, 0))
}
