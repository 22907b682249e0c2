import GRPCCore
import GRPCNIOTransportHTTP2Posix
import SPIFFE

/// A Workload API endpoint serving one identity from an `X509Source` on a Unix socket: what
/// `spike dev agent` runs, and a stand-in for SPIRE's agent in tests. `FetchX509SVID` and
/// `FetchX509Bundles` send the current state at once and again whenever the source's material
/// changes.
public struct WorkloadAPIService: RegistrableRPCService {
    public let source: any X509Source
    /// How often a stream checks the source for a new generation.
    public let updateCheck: Duration

    public init(source: any X509Source, updateCheck: Duration = .milliseconds(200)) {
        self.source = source
        self.updateCheck = updateCheck
    }

    public func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: WorkloadAPIMethods.fetchX509SVID,
            deserializer: EmptyRequestCodec(), serializer: WorkloadAPICodec<WorkloadAPI.X509SVIDResponse>()
        ) { [source, updateCheck] request, _ in
            Self.stream(request, source: source, updateCheck: updateCheck) { try WorkloadAPI.X509SVIDResponse(material: $0) }
        }
        router.registerHandler(
            forMethod: WorkloadAPIMethods.fetchX509Bundles,
            deserializer: EmptyRequestCodec(), serializer: WorkloadAPICodec<WorkloadAPI.X509BundlesResponse>()
        ) { [source, updateCheck] request, _ in
            Self.stream(request, source: source, updateCheck: updateCheck) { try WorkloadAPI.X509BundlesResponse(bundles: $0.bundles) }
        }
    }

    /// A stream that sends the source's current state at once and again whenever it changes,
    /// for requests that carry the security header (Workload Endpoint §3: InvalidArgument
    /// otherwise).
    private static func stream<Message: Sendable>(
        _ request: StreamingServerRequest<EmptyRequest>, source: any X509Source, updateCheck: Duration,
        _ message: @escaping @Sendable (X509Material) throws -> Message
    ) -> StreamingServerResponse<Message> {
        guard request.metadata[stringValues: WorkloadAPI.securityHeader.name].contains(WorkloadAPI.securityHeader.value) else {
            return StreamingServerResponse(error: RPCError(code: .invalidArgument, message: "security header missing from request"))
        }
        return StreamingServerResponse { writer in
            var sent: UInt64?
            while !Task.isCancelled {
                let material = try source.material()
                if material.generation != sent {
                    try await writer.write(message(material))
                    sent = material.generation
                }
                try await Task.sleep(for: updateCheck)
            }
            return [:]
        }
    }

    /// Serves on `socketPath` until cancelled; `onListening` is called once it accepts.
    public func serve(socketPath: String, onListening: @Sendable () -> Void = {}) async throws {
        let server = GRPCServer(
            transport: HTTP2ServerTransport.Posix(address: .unixDomainSocket(path: socketPath), transportSecurity: .plaintext),
            services: [self])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            _ = try await server.listeningAddress
            onListening()
        }
    }
}
