import EventLog
import Foundation
import NexusCore
import Nodes
import SPIFFE
import SPIFFETLS
import SpikeAPI
import SpikeClient
import Testing

/// The node's loop around the driver: what happens when the machine ends the process.
@Suite struct NexusNodeTests {
    /// A start the log refuses ends `run` with the reason, and a `stop` afterwards still returns
    /// (it does not wait for a loop that is gone).
    @Test func aStartTheLogRefusesEndsRunAndStopStillReturns() async throws {
        let ca = try DevelopmentCA(trustDomain: TrustDomain(parsing: "spike.ist"))
        let roles = try SpikeRoles(environment: [:])
        let source = StaticX509Source(svid: try ca.issue(SPIFFEID(parsing: "spiffe://spike.ist/spike/nexus")), bundles: X509BundleSet([ca.bundle]))
        let poller = KeeperPoller(client: HTTPClient(tls: SPIFFETLS(role: .client, source: source, authorizer: roles.authorizer(.keeper)),
                                                     timeout: .seconds(1)))
        let directory = NSTemporaryDirectory() + "spike-node-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try NexusNode(configuration: NexusConfiguration(listen: ("127.0.0.1", 0), keepers: ["https://127.0.0.1:1"], shares: 1,
                                                                   threshold: 1, pollInterval: .seconds(1), dataDirectory: directory),
                                 nexusID: "spiffe://spike.ist/spike/nexus", poller: poller)
        node.log.close()  // every append is refused from now on
        await #expect {
            try await node.run()
        } throws: { error in
            guard case NexusError.logFailed(let reason) = error else { return false }
            return reason.contains("NexusStarted") && reason.contains("closed")
        }
        await node.stop(reason: "test")
        #expect(try node.log.head() == nil)
    }

    /// A Nexus configured with fewer Keepers than its genesis shares the root key among stops at
    /// once with what to do, instead of trapping when it polls the Keeper that is not there.
    @Test func aStartWithFewerKeepersThanTheGenesisStopsWithAClearError() async throws {
        let first = try await NexusHarness()
        try await awaitingCleanup({ await first.stop() }) {
            try await first.initialize()
            await first.stopNexus()
            let roles = try SpikeRoles(environment: [:])
            let source = StaticX509Source(svid: try first.ca.issue(SPIFFEID(parsing: "spiffe://spike.ist/spike/nexus")),
                                          bundles: X509BundleSet([first.ca.bundle]))
            let poller = KeeperPoller(client: HTTPClient(tls: SPIFFETLS(role: .client, source: source, authorizer: roles.authorizer(.keeper)),
                                                         timeout: .seconds(1)))
            let genesisKeepers = first.node.configuration.keepers
            // The genesis names one Keeper; this configuration names two (and SPIKE_NEXUS_SHAMIR_SHARES=2).
            let wrong = NexusConfiguration(listen: ("127.0.0.1", 0), keepers: genesisKeepers + ["https://127.0.0.1:2"], shares: 2,
                                           threshold: 1, pollInterval: .seconds(1), dataDirectory: first.directory)
            #expect(throws: LifecycleError.keeperPeersDifferFromGenesis(configured: 2, genesis: genesisKeepers)) {
                _ = try NexusNode(configuration: wrong, nexusID: "spiffe://spike.ist/spike/nexus", poller: poller)
            }
            let message = "\(LifecycleError.keeperPeersDifferFromGenesis(configured: 2, genesis: genesisKeepers))"
            #expect(message.contains("names 2 Keepers") && message.contains("among 1") && message.contains(genesisKeepers[0]))
            // With the genesis' Keepers the same log starts.
            let right = NexusConfiguration(listen: ("127.0.0.1", 0), keepers: genesisKeepers, shares: 1, threshold: 1,
                                           pollInterval: .seconds(1), dataDirectory: first.directory)
            let node = try NexusNode(configuration: right, nexusID: "spiffe://spike.ist/spike/nexus", poller: poller)
            #expect(try node.log.head() != nil)
            node.log.close()
        }
    }
}
