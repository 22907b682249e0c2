import Foundation
import NexusCore
import SPIFFE
import SPIFFEWorkloadAPI
import SpikeAPI

/// How `spike` processes get their identity: the SPIFFE Workload API at
/// `SPIFFE_ENDPOINT_SOCKET`, waiting at most `SPIKE_SPIFFE_SOURCE_TIMEOUT` (default 30s) for the
/// first SVID (SPIKE's servers wait forever without an agent; a clear error is better).
enum Workload {
    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    static func source() async throws -> WorkloadAPIX509Source {
        let endpoint = try WorkloadAPIEndpoint.fromEnvironment(environment)
        let timeout = try duration("SPIKE_SPIFFE_SOURCE_TIMEOUT", default: .seconds(30))
        return try await WorkloadAPIX509Source(endpoint: endpoint, firstSVIDTimeout: timeout)
    }

    /// A client's identity: PEM files when `SPIKE_SVID_CERT_FILE` is set (with
    /// `SPIKE_SVID_KEY_FILE` and `SPIKE_TRUST_BUNDLE_FILE`), else the Workload API.
    static func clientSource() async throws -> (any X509Source, close: @Sendable () -> Void) {
        guard let certificate = environment["SPIKE_SVID_CERT_FILE"], !certificate.isEmpty else {
            if environment[WorkloadAPI.endpointEnvironmentVariable].map({ $0.isEmpty }) ?? true {
                throw CommandFailure("no identity: set SPIFFE_ENDPOINT_SOCKET to the Workload API socket (unix:///path), "
                    + "or SPIKE_SVID_CERT_FILE, SPIKE_SVID_KEY_FILE and SPIKE_TRUST_BUNDLE_FILE to PEM files")
            }
            let source = try await source()
            return (source, { source.close() })
        }
        guard let key = environment["SPIKE_SVID_KEY_FILE"], !key.isEmpty, let bundle = environment["SPIKE_TRUST_BUNDLE_FILE"], !bundle.isEmpty else {
            throw CommandFailure("SPIKE_SVID_CERT_FILE is set: set SPIKE_SVID_KEY_FILE and SPIKE_TRUST_BUNDLE_FILE too")
        }
        do {
            return (try PEMFileX509Source(certificatePath: certificate, keyPath: key, bundlePath: bundle), {})
        } catch {
            throw CommandFailure("cannot use the PEM identity: \(error)")
        }
    }

    /// A Go-style duration from the environment (`30s`, `1m`), or `fallback` when unset.
    static func duration(_ variable: String, default fallback: Duration) throws -> Duration {
        guard let text = environment[variable], !text.isEmpty else { return fallback }
        guard let parsed = GoDuration.parse(text), parsed > .zero else {
            throw CommandFailure("\(variable) is \"\(text)\"; use a duration such as 30s")
        }
        return parsed
    }

    static func roles() throws -> SpikeRoles {
        do { return try SpikeRoles(environment: environment) } catch {
            throw CommandFailure("a SPIKE_TRUST_ROOT_* variable is not a list of trust domains: \(error)")
        }
    }

    /// This process' SPIFFE ID, which must have `role` (SPIKE checks its own ID at start too).
    static func identity(of source: any X509Source, as role: SpikeRoles.Role, roles: SpikeRoles) throws -> SPIFFEID {
        let id = try source.material().svid.id
        guard roles.has(id, role) else {
            throw CommandFailure("this process' SPIFFE ID is \(id), which does not have the \(role.rawValue) role "
                + "(expected one of \(roles.ids(role).map(\.description).joined(separator: ", ")) or below)")
        }
        return id
    }

    /// Writes `host:port` to `path` (for scripts and `spike dev up` that start servers on port 0).
    static func writeAddress(_ address: String, to path: String?) throws {
        guard let path else { return }
        let temporary = path + ".tmp"
        try Data((address + "\n").utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else { throw CommandFailure("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}

/// Waits for SIGTERM or SIGINT. The signals are unblocked first: a parent (a test runner, a
/// shell script) may have left them blocked.
enum Termination {
    static func wait() async -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let box = SignalBox()
        return await withCheckedContinuation { continuation in
            box.sources = [SIGTERM, SIGINT].map { number in
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { box.fire(number, continuation) }
                source.resume()
                return source
            }
        }
    }

    private final class SignalBox: @unchecked Sendable {
        private let lock = NSLock()
        var sources: [any DispatchSourceSignal] = []
        private var fired = false

        func fire(_ number: Int32, _ continuation: CheckedContinuation<Int32, Never>) {
            lock.lock()
            defer { lock.unlock() }
            guard !fired else { return }
            fired = true
            continuation.resume(returning: number)
        }
    }
}
