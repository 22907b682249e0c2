import Foundation
import NexusCore
import NIOCore
import NIOHTTP1
import Nodes
import Projections
import SPIFFE
import SPIFFETLS
import SpikeAPI
@testable import SpikeClient
import Testing

/// The Keeper's and the Nexus' routes over real mutual TLS on loopback (port 0), with SVIDs
/// from a development CA: who may connect, what an empty Keeper answers, the 503 gate, and who
/// may initialize.
@Suite struct NodeRoutesTests {
    let dev: DevIdentities

    init() throws {
        dev = try DevIdentities()
    }

    @Test func keeperHoldsOneShareAndServesTheNexusOnly() async throws {
        let (server, url) = try await dev.startKeeper()
        try await awaitingCleanup({ await server.shutdown() }) {
            let nexus = try dev.client("/spike/nexus", server: .keeper)
            let empty = try await nexus.post(url, path: "/v1/store/shard", body: Array("{}".utf8))
            #expect(empty.status == .notFound && String(decoding: empty.body, as: UTF8.self) == #"{"Err":"api_not_found","shard":null}"#)
            let share = (1...32).map(String.init).joined(separator: ",")
            #expect(try await nexus.post(url, path: "/v1/store/contribute", body: Array(#"{"shard":[\#(share)]}"#.utf8)).status == .ok)
            let held = try await nexus.post(url, path: "/v1/store/shard", body: Array("{}".utf8))
            #expect(held.status == .ok && String(decoding: held.body, as: UTF8.self) == #"{"Err":"","shard":[\#(share)]}"#)
            // Refused: all-zero, short, and malformed shares, unknown routes, other methods.
            for body in [#"{"shard":[\#([String](repeating: "0", count: 32).joined(separator: ","))]}"#, #"{"shard":[1,2]}"#, "{", #"{"shard":null}"#] {
                #expect(try await nexus.post(url, path: "/v1/store/contribute", body: Array(body.utf8)).status == .badRequest, "\(body)")
            }
            #expect(try await nexus.post(url, path: "/v1/store/other", body: []).status == .badRequest)
            #expect(try await nexus.get(url, path: "/v1/store/shard").status == .badRequest)
            // A poller sees the share; anyone but the Nexus is refused at the handshake.
            if case .shard(let value) = await KeeperPoller(client: nexus).poll(url).0 { #expect(value == Array(1...32)) } else { Issue.record("no share") }
            for intruder in ["/spike/pilot/role/superuser", "/spike/keeper", "/spike/bootstrap", "/workload/app"] {
                await #expect(throws: HTTPClientError.self) {
                    try await dev.client(intruder, server: .keeper).post(url, path: "/v1/store/shard", body: Array("{}".utf8))
                }
                let answer = await KeeperPoller(client: try dev.client(intruder, server: .keeper)).poll(url).0
                if case .refused = answer {} else { Issue.record("\(intruder) was not refused: \(answer)") }
            }
            // SPIKE's Bootstrap cannot overwrite the share (it would seal the system at the next start).
            await #expect(throws: HTTPClientError.self) {
                try await dev.client("/spike/bootstrap", server: .keeper).post(url, path: "/v1/store/contribute",
                                                                              body: Array(#"{"shard":[\#((2...33).map(String.init).joined(separator: ","))]}"#.utf8))
            }
            if case .shard(let value) = await KeeperPoller(client: nexus).poll(url).0 { #expect(value == Array(1...32)) } else { Issue.record("no share") }
        }
    }

    /// With TLS 1.3 the server refuses our certificate after our side of the handshake is done:
    /// its alert can close the connection before the request is written. The request then fails
    /// with that refusal, not with the write on a closed connection (a poller would have taken a
    /// refused intruder for a Keeper in trouble).
    @Test func aRefusalThatClosesTheConnectionBeforeTheRequestIsStillARefusal() async throws {
        let (server, url) = try await dev.startKeeper()
        try await awaitingCleanup({ await server.shutdown() }) {
            let intruder = try dev.client("/workload/app", server: .keeper)
            do throws(HTTPClientError) {
                _ = try await intruder.withConnection(url) { session in
                    try await session.channel.closeFuture.get()
                    return try await session.post("/v1/store/shard", body: Array("{}".utf8))
                }
                Issue.record("the Keeper answered an intruder")
            } catch .refused(let why) {
                #expect(why.contains("CERTIFICATE"), "\(why)")
            } catch {
                Issue.record("failed with \(error), not as refused")
            }
        }
    }

    @Test func nexusGatesRoutesUntilReadyAndOnlyASuperuserInitializes() async throws {
        let nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            let (node, url) = (nexus.node, nexus.url)
            try await nexus.waitUntilStarted()
            let superuser = try nexus.client("/spike/pilot/role/superuser")
            let workload = try nexus.client("/workload/app")
            #expect(try await superuser.get(url, path: "/healthz").status == .ok)
            #expect(try await superuser.get(url, path: "/readyz").status == .serviceUnavailable)
            // The superuser sees the detail; a workload the state alone (no Keeper URL, no reason).
            let detail = try JSONDecoder().decode(NexusStatus.self, from: Data(try await superuser.get(url, path: "/readyz").body))
            #expect(detail.state == .uninitialized && detail.keepers.map(\.url) == node.configuration.keepers && detail.reason != nil)
            let bare = try await workload.get(url, path: "/readyz")
            #expect(bare.status == .serviceUnavailable)
            #expect(String(decoding: bare.body, as: UTF8.self) == #"{"epoch":0,"keepers":[],"ready":false,"sharesInHand":0,"state":"uninitialized","threshold":0}"#)
            let gated = try await workload.post(url, path: "/v1/store/secrets?action=get", body: Array(#"{"path":"a"}"#.utf8))
            #expect(gated.status == .serviceUnavailable && String(decoding: gated.body, as: UTF8.self) == #"{"err":"state_not_ready"}"#)
            let password = Array(#"{"password":"correct horse battery"}"#.utf8)
            #expect(try await workload.post(url, path: "/v1/auth/initialization", body: password).status == .unauthorized)
            #expect(try await superuser.post(url, path: "/v1/auth/initialization", body: Array(#"{"password":"short"}"#.utf8)).status == .badRequest)
            // Long is not enough: a guess list's favourites are refused, with SPIKE's code for it.
            for weak in ["aaaaaaaaaaaaaaaaaaaa", "Password2024!", "123456789012"] {
                let refused = try await superuser.post(url, path: "/v1/auth/initialization", body: Array(#"{"password":"\#(weak)"}"#.utf8))
                #expect(refused.status == .badRequest && String(decoding: refused.body, as: UTF8.self) == #"{"err":"password_too_weak"}"#, "\(weak)")
            }
            #expect(try await superuser.post(url, path: "/v1/auth/initialization", body: Array("not json".utf8)).status == .badRequest)
            #expect(try await superuser.post(url, path: "/v1/auth/initialization", body: password).status == .ok)
            #expect(try await superuser.post(url, path: "/v1/auth/initialization", body: password).status == .conflict)
            #expect(node.status.ready)
            let deadline = ContinuousClock.now + .seconds(10)
            while node.status.keepers.first?.lastOutcome != KeeperPollOutcome.hasShard.rawValue, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(node.status.keepers.first?.lastOutcome == KeeperPollOutcome.hasShard.rawValue, "the Keeper got its share and a poll found it")
            let metrics = String(decoding: try await superuser.get(url, path: "/metrics").body, as: UTF8.self)
            let samples = try #require(prometheusSamples(metrics))
            #expect(samples["spike_nexus_ready"] == 1 && samples["spike_nexus_shares_in_hand"] == 1)
            #expect((samples[#"spike_keeper_polls_total{keeper="1",outcome="has-shard"}"#] ?? 0) >= 1)
            #expect(samples[#"spike_keeper_polls_total{keeper="1",outcome="refused"}"#] == 0, "every outcome is a series from the start")
            #expect((samples["spike_log_events_written_total"] ?? 0) >= 3 && (samples["spike_log_head_sequence"] ?? 0) >= 3)
            #expect(!metrics.contains("correct horse"))
        }
    }
}
