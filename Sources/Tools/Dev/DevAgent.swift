import ArgumentParser
import Foundation
import SPIFFE
import SPIFFEWorkloadAPI

struct DevAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Serve the SPIFFE Workload API on a Unix socket for one identity, rotating its SVID.",
        discussion: """
        One agent serves one SPIFFE ID: every process that can open the socket gets that
        identity, so give each identity its own socket in a directory only its workload can
        reach. The SVID is re-issued every half lifetime and pushed to connected workloads.
        Prints `listening on unix://PATH` when ready; runs until stopped.
        Example:
          spike dev agent --ca ~/.spike/dev-ca --socket /tmp/nexus.sock --id spiffe://spike.ist/spike/nexus
          SPIFFE_ENDPOINT_SOCKET=unix:///tmp/nexus.sock spike nexus
        """
    )

    @Option(name: .long, help: "The CA directory made by `spike dev ca init`.")
    var ca: String
    @Option(name: .long, help: "The Unix socket to listen on (a stale one is replaced).")
    var socket: String
    @Option(name: .long, help: "The SPIFFE ID to serve.")
    var id: String
    @Option(name: .long, help: "SVID lifetime in seconds.")
    var ttl: Int = 3600

    func validate() throws {
        guard ttl >= 2 else { throw ValidationError("--ttl must be at least 2 seconds") }
    }

    func run() async throws {
        let authority = try DevFiles.loadCA(ca)
        let identity = try SPIFFEID(parsing: id)
        let lifetime = TimeInterval(ttl)
        let source = StaticX509Source(svid: try authority.issue(identity, lifetime: lifetime), bundles: X509BundleSet([authority.bundle]))
        unlink(socket)
        let socketPath = socket
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                try await WorkloadAPIService(source: source).serve(socketPath: socketPath) {
                    // One write: the line reaches a pipe at once, whatever stdout's buffering.
                    FileHandle.standardOutput.write(Data("listening on unix://\(socketPath) for \(identity)\n".utf8))
                }
            }
            group.addTask {
                while true {
                    try await Task.sleep(for: .seconds(lifetime / 2))
                    source.update(svid: try authority.issue(identity, lifetime: lifetime))
                }
            }
        }
    }
}
