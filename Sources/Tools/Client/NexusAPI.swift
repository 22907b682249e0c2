import Foundation
import NIOHTTP1
import Nodes
import SPIFFE
import SPIFFETLS
import SPIFFEWorkloadAPI

/// The client side of the Nexus API for `spike` commands: the caller's identity from the
/// Workload API, the Nexus at `SPIKE_NEXUS_API_URL` (default https://localhost:8553), whose
/// SPIFFE ID must have the Nexus role.
struct NexusAPI {
    let url: String
    let client: HTTPClient
    let source: WorkloadAPIX509Source
    let caller: SPIFFEID

    /// Connects as a caller with `role` (checked here first, as SPIKE's CLI does).
    static func connect(as role: SpikeRoles.Role, url: String? = nil, source: WorkloadAPIX509Source? = nil) async throws -> NexusAPI {
        let roles = try Workload.roles()
        let source = if let source { source } else { try await Workload.source() }
        let caller = try Workload.identity(of: source, as: role, roles: roles)
        let url = url ?? Workload.environment["SPIKE_NEXUS_API_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://localhost:8553"
        let client = HTTPClient(tls: SPIFFETLS(role: .client, source: source, authorizer: roles.authorizer(.nexus)), timeout: .seconds(30))
        return NexusAPI(url: url, client: client, source: source, caller: caller)
    }

    func post(_ path: String, _ body: some Encodable) async throws -> HTTPClientResponse {
        do {
            return try await client.post(url, path: path, body: Array(try JSONEncoder().encode(body)))
        } catch let error as HTTPClientError {
            throw CommandFailure("cannot reach the Nexus at \(url): \(error)")
        }
    }

    func get(_ path: String) async throws -> HTTPClientResponse {
        do {
            return try await client.get(url, path: path)
        } catch {
            throw CommandFailure("cannot reach the Nexus at \(url): \(error)")
        }
    }

    /// The `err` code of a JSON error body, if there is one.
    static func errorCode(_ response: HTTPClientResponse) -> String? {
        (try? JSONDecoder().decode([String: String?].self, from: Data(response.body)))?["err"] ?? nil
    }

    func status() async throws -> NexusStatus? {
        try? JSONDecoder().decode(NexusStatus.self, from: Data(await get("/readyz").body))
    }
}
