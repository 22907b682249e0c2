import GRPCCore
import GRPCNIOTransportHTTP2Posix
import SPIFFE

/// A Workload API endpoint serving one identity from an `X509Source` on a Unix socket: what
/// `spike dev agent` runs, and a stand-in for SPIRE's agent in tests. `FetchX509SVID` sends the
/// current SVID at once and again whenever the source's material changes.
public struct WorkloadAPIService: RegistrableRPCService {
    public let source: any X509Source
    /// How often a stream checks the source for a new generation.
    public let updateCheck: Duration

    public init(source: any X509Source, updateCheck: Duration = .milliseconds(200)) {
        self.source = source
        self.updateCheck = updateCheck
    }

    public func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        let source = self.source
        let updateCheck = self.updateCheck
        router.registerHandler(
            forMethod: WorkloadAPIMethods.fetchX509SVID,
            deserializer: EmptyRequestCodec(), serializer: X509SVIDResponseCodec()
        ) { request, _ in
            // Workload Endpoint §3: requests without the security header get InvalidArgument.
            guard request.metadata[stringValues: WorkloadAPI.securityHeader.name].contains(WorkloadAPI.securityHeader.value) else {
                return StreamingServerResponse(error: RPCError(code: .invalidArgument, message: "security header missing from request"))
            }
            return StreamingServerResponse { writer in
                var sent: UInt64?
                while !Task.isCancelled {
                    let material = try source.material()
                    if material.generation != sent {
                        try await writer.write(WorkloadAPI.X509SVIDResponse(material: material))
                        sent = material.generation
                    }
                    try await Task.sleep(for: updateCheck)
                }
                return [:]
            }
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
