import ArgumentParser
import Foundation
import NexusCore
import Nodes
import SPIFFETLS
import SPIFFEWorkloadAPI

struct KeeperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keeper",
        abstract: "Run a Keeper: hold one share of the Nexus' root key, in memory only.",
        discussion: """
        A Keeper keeps nothing on disk: a restarted Keeper is empty (it answers 404) until the
        Nexus sends its share again. Only the Nexus (and SPIKE's Bootstrap, to contribute) may
        connect; anyone else is refused during the TLS handshake.

        Environment:
          SPIFFE_ENDPOINT_SOCKET    the Workload API (the Keeper's identity, …/spike/keeper)
          SPIKE_KEEPER_TLS_PORT     listen address, default :8443 (use 127.0.0.1:0 for any free port)
          SPIKE_TRUST_ROOT_NEXUS, SPIKE_TRUST_ROOT_KEEPER, SPIKE_TRUST_ROOT_BOOTSTRAP   default spike.ist
          SPIKE_MEMORY_LOCK         auto (default: lock memory when allowed), required, off
        Core dumps are disabled and memory is locked when allowed, so that the share never
        reaches a core file or swap.
        Example:
          SPIFFE_ENDPOINT_SOCKET=unix:///tmp/keeper.sock SPIKE_KEEPER_TLS_PORT=:8443 spike keeper
        """
    )

    @Option(name: .long, help: "Write the bound host:port to this file once listening.")
    var addressFile: String?

    func run() async throws {
        let environment = Workload.environment
        try HostHardening.apply(to: "spike keeper", environment: environment)
        let listen = try ListenAddress.parse(environment["SPIKE_KEEPER_TLS_PORT"].flatMap { $0.isEmpty ? nil : $0 } ?? ":8443",
                                             variable: "SPIKE_KEEPER_TLS_PORT")
        let roles = try Workload.roles()
        let source = try await Workload.source()
        defer { source.close() }
        let id = try Workload.identity(of: source, as: .keeper, roles: roles)
        let service = KeeperService(roles: roles)
        let server = try await HTTPServer.start(host: listen.host, port: listen.port,
                                                tls: SPIFFETLS(role: .server, source: source, authorizer: service.connectionAuthorizer),
                                                limits: KeeperService.limits, service: service)
        try Workload.writeAddress("\(listen.host):\(server.port)", to: addressFile)
        FileHandle.standardOutput.write(Data("spike keeper \(id) listening on https://\(listen.host):\(server.port)\n".utf8))
        let signal = await Termination.wait()
        await server.shutdown()
        FileHandle.standardOutput.write(Data("spike keeper stopped (signal \(signal)); its share is gone with it\n".utf8))
    }
}
