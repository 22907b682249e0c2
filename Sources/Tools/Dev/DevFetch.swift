import ArgumentParser
import Foundation
import SPIFFE
import SPIFFEWorkloadAPI
import X509

struct DevFetch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch this workload's X.509-SVID from the Workload API and describe it.",
        discussion: """
        Like `spire-agent api fetch x509`: prints the SPIFFE ID, validity and trust domains, and
        with --write DIR saves svid.pem, svid.key (0600) and bundle.pem there.
        Example:
          SPIFFE_ENDPOINT_SOCKET=unix:///tmp/nexus.sock spike dev fetch
        """
    )

    @Option(name: .long, help: "The Workload API endpoint (default: $SPIFFE_ENDPOINT_SOCKET), e.g. unix:///tmp/agent.sock.")
    var socket: String?
    @Option(name: .long, help: "Seconds to wait for the first SVID.")
    var timeout: Int = 10
    @Option(name: .long, help: "A directory to write svid.pem, svid.key and bundle.pem into.")
    var write: String?

    func run() async throws {
        let endpoint = try socket.map { try WorkloadAPIEndpoint(parsing: $0) }
            ?? WorkloadAPIEndpoint.fromEnvironment(ProcessInfo.processInfo.environment)
        let source = try await WorkloadAPIX509Source(endpoint: endpoint, firstSVIDTimeout: .seconds(timeout))
        defer { source.close() }
        let material = try source.material()
        let leaf = material.svid.leaf
        print("SPIFFE ID:     \(material.svid.id)")
        print("valid:         \(leaf.notValidBefore) to \(leaf.notValidAfter)")
        print("chain:         \(material.svid.certificates.count) certificate(s)")
        print("trust domains: \(material.bundles.bundles.keys.sorted().map(\.name).joined(separator: ", "))")
        if let write {
            try FileManager.default.createDirectory(atPath: write, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try DevFiles.create(DevFiles.path(write, "svid.key"), material.svid.privateKeyPEM(), mode: 0o600, replace: true)
            try DevFiles.create(DevFiles.path(write, "svid.pem"), material.svid.certificatesPEM(), mode: 0o644, replace: true)
            let bundle = try material.bundles.bundles.values.sorted { $0.trustDomain < $1.trustDomain }.map { try $0.pem() }.joined()
            try DevFiles.create(DevFiles.path(write, "bundle.pem"), bundle, mode: 0o644, replace: true)
            print("written:       \(write)/svid.pem, svid.key, bundle.pem")
        }
    }
}
