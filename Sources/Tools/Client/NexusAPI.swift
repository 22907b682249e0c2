import Foundation
import NexusCore
import NIOHTTP1
import SPIFFE
import SPIFFETLS
import SPIFFEWorkloadAPI
import SpikeAPI
import SpikeClient
import Synchronization

/// The client side of the Nexus API for `spike` commands: the caller's identity (`Workload`),
/// the Nexus at `SPIKE_NEXUS_API_URL` (default https://localhost:8553), whose SPIFFE ID must have
/// the Nexus role.
struct NexusAPI {
    let url: String
    let client: HTTPClient
    let caller: SPIFFEID
    /// One kept-alive connection for the whole invocation: a command of several requests makes
    /// one TLS handshake.
    let connection: HTTPConnectionPool
    private let closeSource: @Sendable () -> Void
    private let started: ContinuousClock.Instant
    /// `--verbose` (`ClientOptions`): each request's time and the connection's, on stderr.
    static let verbose = Atomic<Bool>(false)

    static let defaultURL = "https://localhost:8553"

    /// Connects as this process' identity; with `role`, the identity must have it (checked here
    /// first, as SPIKE's CLI does).
    static func connect(as role: SpikeRoles.Role? = nil, url: String? = nil, source given: (any X509Source)? = nil) async throws -> NexusAPI {
        let started = ContinuousClock.now
        let roles = try Workload.roles()
        let (source, close): (any X509Source, @Sendable () -> Void)
        if let given {
            (source, close) = (given, {})
        } else {
            (source, close) = try await Workload.clientSource()
        }
        let caller: SPIFFEID
        if let role {
            caller = try Workload.identity(of: source, as: role, roles: roles)
        } else {
            caller = try source.material().svid.id
        }
        let url = url ?? Workload.environment["SPIKE_NEXUS_API_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultURL
        let timeout = try Workload.duration("SPIKE_NEXUS_API_TIMEOUT", default: .seconds(30))
        let client = HTTPClient(tls: SPIFFETLS(role: .client, source: source, authorizer: roles.authorizer(.nexus)), timeout: timeout)
        report("identity \(caller) from \(given == nil ? "the Workload API" : "files") in \(milliseconds(started.duration(to: .now)))")
        return NexusAPI(url: url, client: client, caller: caller, connection: HTTPConnectionPool(client: client, maxPerEndpoint: 1),
                        closeSource: close, started: started)
    }

    func close() {
        connection.close()
        closeSource()
        let statistics = connection.statistics
        Self.report("\(statistics.requests) request\(statistics.requests == 1 ? "" : "s") on \(statistics.connectionsOpened) "
            + "connection\(statistics.connectionsOpened == 1 ? "" : "s") to \(url) (TCP connect \(Self.milliseconds(statistics.connecting))), "
            + "\(Self.milliseconds(started.duration(to: .now))) in all")
    }

    /// A line on stderr with `--verbose`.
    static func report(_ line: @autoclosure () -> String) {
        guard verbose.load(ordering: .relaxed) else { return }
        FileHandle.standardError.write(Data("spike: \(line())\n".utf8))
    }

    static func milliseconds(_ duration: Duration) -> String {
        let millis = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return String(format: "%.1f ms", millis)
    }

    /// Sends on the invocation's connection, timed for `--verbose`.
    private func send(_ method: HTTPMethod, _ path: String, bytes: [UInt8], contentType: String?) async throws -> HTTPClientResponse {
        let sent = ContinuousClock.now
        do {
            let response = try await connection.send(method, url, path: path, body: bytes, contentType: contentType)
            Self.report("\(method.rawValue) \(path) \(response.status.code) in \(Self.milliseconds(sent.duration(to: .now)))")
            return response
        } catch {
            Self.report("\(method.rawValue) \(path) failed in \(Self.milliseconds(sent.duration(to: .now)))")
            throw connectionFailure(error)
        }
    }

    /// Runs `body` with a connection as this process' identity, closed afterwards: what every
    /// `spike secret|policy|cipher` command does.
    static func using<T>(_ body: (NexusAPI) async throws -> T) async throws -> T {
        let api = try await connect()
        defer { api.close() }
        return try await body(api)
    }

    func post(_ route: APIRoute, _ body: some Encodable) async throws -> HTTPClientResponse {
        try await post(route, bytes: Array(try WireJSON.encoder.encode(body)))
    }

    func post(_ route: APIRoute, bytes: [UInt8], contentType: String = "application/json") async throws -> HTTPClientResponse {
        try await send(.POST, route.target, bytes: bytes, contentType: contentType)
    }

    func get(_ path: String) async throws -> HTTPClientResponse {
        try await send(.GET, path, bytes: [], contentType: nil)
    }

    private func connectionFailure(_ error: any Error) -> any Error {
        guard let error = error as? HTTPClientError else { return error }
        let hint = Workload.environment["SPIKE_NEXUS_API_URL"].map { $0.isEmpty } ?? true
            ? " (SPIKE_NEXUS_API_URL is not set: set it to the Nexus' https://host:port)" : ""
        return CommandFailure("Failed to connect to SPIKE Nexus at \(url): \(error)\(hint)")
    }

    /// Posts a JSON request and decodes the 200 answer; any other answer is the failure SPIKE's
    /// CLI would print (`APIFailure`).
    func call<Response: Decodable>(_ route: APIRoute, _ body: some Encodable, as type: Response.Type, notFound: String = APIFailure.notFound) async throws -> Response {
        let response = try await post(route, body)
        guard response.status == .ok else { throw APIFailure.failure(response, notFound: notFound) }
        guard let decoded = try? JSONDecoder().decode(Response.self, from: Data(response.body)) else {
            throw CommandFailure("Failed to parse API response.")
        }
        return decoded
    }

    /// The `err` code of a JSON error body, if there is one.
    static func errorCode(_ response: HTTPClientResponse) -> APIErrorCode? {
        (try? JSONDecoder().decode(APIErrorBody.self, from: Data(response.body)))?.code
    }

    func status() async throws -> NexusStatus? {
        try? JSONDecoder().decode(NexusStatus.self, from: Data(await get("/readyz").body))
    }
}

/// SPIKE's CLI messages for the API's error codes (reference §3), printed after `Error: `.
enum APIFailure {
    static let notFound = "Resource not found."
    static let notReady = """
        SPIKE is not ready yet: the Nexus does not hold its root key.
          It is waiting for enough Keepers to answer, or the system is not initialized (`spike init`).
          `spike dev status` or GET /readyz on the Nexus tells which.
        """

    static func failure(_ response: HTTPClientResponse, notFound: String = notFound) -> CommandFailure {
        let code = NexusAPI.errorCode(response)
        switch (response.status.code, code) {
        case (_, .storeUnavailable):
            return CommandFailure("The Nexus cannot reach its log's store (PostgreSQL): nothing was written. Retry once it is back; reads still work.")
        case (503, _), (_, .notReady): return CommandFailure(notReady)
        case (401, _), (_, .unauthorized): return CommandFailure("Unauthorized access.")
        case (404, _), (_, .notFound), (_, .entityNotFound): return CommandFailure(notFound)
        case (_, .entityInvalid): return CommandFailure("Invalid entity.")
        case (_, .versionMismatch):
            return CommandFailure("Version mismatch: the current version is not the one given with --cas.")
        case (413, _): return CommandFailure("Invalid request: the request body is too large.")
        case (_, .storageFull):
            return CommandFailure("The Nexus' log is out of space: nothing was written. Free space on its data volume and retry.")
        case (400, _): return CommandFailure("Invalid request.")
        case (500, _): return CommandFailure("Operation failed.")
        case (let status, let code): return CommandFailure("the Nexus answered \(status)\(code.map { " \($0.rawValue)" } ?? "")")
        }
    }
}
