import GRPCCore
import SPIFFE

/// `X509SVIDRequest` and `X509BundlesRequest` have no fields.
package struct EmptyRequest: Sendable {
    package init() {}
}

package struct EmptyRequestCodec: MessageSerializer, MessageDeserializer {
    package init() {}
    package func serialize<Bytes: GRPCContiguousBytes>(_ message: EmptyRequest) throws -> Bytes { Bytes([]) }
    // Unknown fields are skipped: any bytes are an empty request.
    package func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> EmptyRequest { EmptyRequest() }
}

/// The codec of any Workload API response message (they encode themselves).
package struct WorkloadAPICodec<Message: WorkloadAPIMessage>: MessageSerializer, MessageDeserializer {
    package init() {}

    package func serialize<Bytes: GRPCContiguousBytes>(_ message: Message) throws -> Bytes {
        Bytes(message.serialized())
    }

    package func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Message {
        try Message(serialized: serializedMessageBytes.withUnsafeBytes { Array($0) })
    }
}

package enum WorkloadAPIMethods {
    package static let fetchX509Bundles = MethodDescriptor(fullyQualifiedService: WorkloadAPI.serviceName, method: "FetchX509Bundles")
    package static let fetchX509SVID = MethodDescriptor(fullyQualifiedService: WorkloadAPI.serviceName, method: "FetchX509SVID")
}

/// Where the Workload API listens: `unix:///absolute/path` (SPIFFE Workload Endpoint §4).
public struct WorkloadAPIEndpoint: Sendable, Equatable, CustomStringConvertible {
    public let socketPath: String

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    /// Parses a `unix:` URI; `tcp:` endpoints are not supported here (the standard prefers Unix
    /// sockets, and TCP needs source-IP attestation this library does not do).
    public init(parsing uri: String) throws(SPIFFEError) {
        guard uri.hasPrefix("unix:") else {
            throw .sourceUnavailable("workload endpoint '\(uri)' is not a unix:///path URI")
        }
        var rest = uri.dropFirst("unix:".count)
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            guard rest.hasPrefix("/") else {
                throw .sourceUnavailable("workload endpoint '\(uri)' has an authority; write unix:///absolute/path")
            }
        }
        guard rest.hasPrefix("/"), rest.count > 1, !rest.contains("?"), !rest.contains("#") else {
            throw .sourceUnavailable("workload endpoint '\(uri)' must be unix:///absolute/path with no query or fragment")
        }
        socketPath = String(rest)
    }

    /// From `SPIFFE_ENDPOINT_SOCKET`.
    public static func fromEnvironment(_ environment: [String: String]) throws(SPIFFEError) -> WorkloadAPIEndpoint {
        guard let value = environment[WorkloadAPI.endpointEnvironmentVariable], !value.isEmpty else {
            throw .sourceUnavailable("\(WorkloadAPI.endpointEnvironmentVariable) is not set: point it at the Workload API socket (unix:///path)")
        }
        return try WorkloadAPIEndpoint(parsing: value)
    }

    public var description: String { "unix://" + socketPath }
}
