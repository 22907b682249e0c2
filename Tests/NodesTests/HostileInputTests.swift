import EventLog
import Foundation
import NIOHTTP1
import Nodes
import Projections
import SpikeAPI
import SpikeClient
import Testing

/// Nothing a client sends crashes the Nexus or corrupts its log: seeded random requests (wrong
/// methods, unknown routes and actions, random bytes, truncated and mistyped JSON, deep nesting,
/// invalid UTF-8, both content types) from a superuser and from a stranger, then the Nexus
/// still serves, every answer was one of the documented statuses, and the log verifies and
/// replays to the state in memory.
@Suite struct HostileInputTests {
    static let routes = DataAPI.routes.map { $0.action.isEmpty ? $0.path : $0.path + "?action=" + $0.action }
        + ["/v1/store/secrets?action=", "/v1/store/secrets?action=GET", "/v1/store", "/", "/v1/acl/policy?action=list&action=get",
           "/v1/store/secrets?%zz", "/v1/operator/recover", "/v1/store/keep"]

    static func body(_ random: inout SplitMix64) -> [UInt8] {
        let valid = [#"{"path":"a/b","values":{"k":"v"}}"#, #"{"path":"a/b"}"#, #"{"path":"a/b","versions":[1,2]}"#, "{}",
                     #"{"name":"p","spiffeidPattern":"^spiffe://a$","pathPattern":"^a/.*$","permissions":["read"]}"#,
                     #"{"id":"p"}"#, #"{"plaintext":"aGk="}"#, #"{"version":1,"nonce":"AAAAAAAAAAAAAAAA","ciphertext":"AAAA"}"#]
        let pick = valid[Int(random.next() % UInt64(valid.count))]
        switch random.next() % 9 {
        case 0: return (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        case 1: return Array(pick.utf8.prefix(Int(random.next() % UInt64(pick.utf8.count))))
        case 2: return Array(pick.replacingOccurrences(of: "\"a/b\"", with: ["1", "null", "[]", "{}", "true", "\"\"", "1e999"][Int(random.next() % 7)]).utf8)
        case 3: return Array(String(repeating: "[", count: 20_000).utf8)
        case 4: return Array(pick.utf8) + [0xFF, 0xFE, 0x00]
        case 5: return Array(pick.replacingOccurrences(of: "a/b", with: String(repeating: "x", count: 600)).utf8)
        case 6: return Array(#"{"path":"a/b","version":-\#(random.next() % 1000),"versions":[-1,0,99999999999999999999]}"#.utf8)
        case 7: return Array(#"{"path":"a\u0000b","values":{"\u00e9":"\ud800"}}"#.utf8)
        default: return Array(pick.utf8)
        }
    }

    @Test func randomRequestsChangeNothingThatShouldNotChange() async throws {
        let nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let clients = [try nexus.client("/spike/pilot/role/superuser"), try nexus.client("/workload/stranger"), try nexus.client("/spike/workload/role/lite")]
            var random = SplitMix64(seed: UInt64(ProcessInfo.processInfo.environment["SPIKE_HOSTILE_SEED"] ?? "") ?? 7)
            let methods: [HTTPMethod] = [.POST, .POST, .POST, .GET, .PUT, .DELETE, .PATCH]
            var statuses: [UInt: Int] = [:]
            for _ in 0..<300 {
                let route = Self.routes[Int(random.next() % UInt64(Self.routes.count))]
                let method = methods[Int(random.next() % UInt64(methods.count))]
                let contentType = random.next() % 4 == 0 ? "application/octet-stream" : "application/json"
                let client = clients[Int(random.next() % UInt64(clients.count))]
                let response = try await client.send(method, nexus.url, path: route, body: Self.body(&random), contentType: contentType)
                statuses[response.status.code, default: 0] += 1
                #expect([200, 400, 401, 404, 409, 413, 500].contains(response.status.code), "\(method) \(route) → \(response.status)")
            }
            #expect(statuses[400, default: 0] > 100, "\(statuses)")
            // Still serving, and the log is whole and folds to what the Nexus holds.
            let admin = clients[0]
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"after/all","values":{"k":"v"}}"#) == (200, "{}"))
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=get", #"{"path":"after/all"}"#) == (200, #"{"data":{"k":"v"}}"#))
            let key = try LogKeyFile.readPrivateKey(at: nexus.directory + "/audit-key.pem")
            let report = nexus.node.log.verify(keyring: LogKeyring([key]))
            #expect(report.isIntact, "\(report)")
            let replayed = try NexusProjections.replay(nexus.node.log, keyring: LogKeyring([key])).data
            let counts = nexus.node.store.counts
            #expect(replayed.secrets.count == counts.secrets && replayed.policies.count == counts.policies && replayed.accessDenials == counts.denials)
            #expect(replayed.secrets.keys.sorted() == nexus.node.store.secretPaths())
            for path in replayed.secrets.keys {
                if let held = nexus.node.store.metadata(path, version: 0) { #expect(replayed.secrets[path] == held, "\(path)") }
            }
        }
    }

    /// A policy admin's pattern that a backtracking engine takes exponential time on, then a
    /// workload reading the path that makes it worst: on ICU the read (and every check queued
    /// behind it) never came back; on RE2 both reads answer at once, and other workloads are served.
    @Test(.timeLimit(.minutes(1))) func aPolicyPatternCannotFreezeTheNexus() async throws {
        let nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let admin = try nexus.client("/spike/pilot/role/superuser")
            let attacker = try nexus.client("/workload/attacker")
            // Anchored: an unanchored pattern ending in `c` would reach spike/system/acl (ADR-0033).
            for (name, pattern) in [("alternation", "^(a|aa)*c$"), ("optional", "^(a?a)*c$")] {
                let policy = #"{"name":"\#(name)","spiffeidPattern":"^spiffe://spike\\.ist/workload/attacker$","pathPattern":"\#(pattern)","permissions":["read"]}"#
                #expect(try await nexus.post(admin, "/v1/acl/policy", policy).0 == 200)
            }
            let worst = String(repeating: "a", count: 499)
            let started = ContinuousClock.now
            // No `c`: no policy matches, the read is refused (after both patterns ran on 499 `a`s).
            #expect(try await nexus.post(attacker, "/v1/store/secrets?action=get", #"{"path":"\#(worst)"}"#).0 == 401)
            // With the `c` the pattern matches: allowed, and there is no such secret.
            #expect(try await nexus.post(attacker, "/v1/store/secrets?action=get", #"{"path":"\#(worst)c"}"#).0 == 404)
            let elapsed = ContinuousClock.now - started
            #expect(elapsed < .seconds(25), "two policy checks took \(elapsed)")
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"still/serving","values":{"k":"v"}}"#) == (200, "{}"))
        }
    }

    /// A flood of refused requests (one identity, one path; then the same identity cycling
    /// through paths): every refusal is counted, the log grows by a few events, measured.
    @Test func aFloodOfRefusalsGrowsTheLogByAFewEventsAndEveryOneIsCounted() async throws {
        var nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let attacker = try nexus.client("/workload/flood")
            let bytesBefore = nexus.node.log.storedBytes
            func refusalEvents() throws -> Int { try nexus.events().filter { $0.payload is AccessDenied }.count }
            let eventsBefore = try refusalEvents()
            let started = ContinuousClock.now
            let (same, cycling) = (600, 400)
            let target = nexus
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        for index in stride(from: worker, to: same + cycling, by: 8) {
                            let path = index < same ? "apps/db" : "apps/p\(index)"
                            let status = try await target.post(attacker, "/v1/store/secrets?action=get", #"{"path":"\#(path)"}"#).0
                            #expect(status == 401)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let written = try refusalEvents() - eventsBefore
            let grown = nexus.node.log.storedBytes - bytesBefore
            // One event for the first on apps/db, one per path up to the identity's limit, one window
            // for the rest; the summaries come when the windows end (at the stop, or on a machine
            // slow enough for the flood to outlast a window, one per window that ended).
            let windowsEnded = Int((ContinuousClock.now - started) / .seconds(60)) + 1
            #expect(written <= 1 + 32 + 1 + 2 * windowsEnded, "\(written) events for \(same + cycling) refusals")
            let metrics = String(decoding: try await nexus.client("/spike/pilot/role/superuser").get(nexus.url, path: "/metrics").body, as: UTF8.self)
            #expect(try #require(prometheusSamples(metrics))["spike_access_denied_total"] == Double(same + cycling))
            await nexus.stopNexus()
            nexus = try await NexusHarness(continuing: nexus)
            try await nexus.waitUntilStarted()
            let denials = try nexus.events().compactMap { $0.payload as? AccessDenied }
            #expect(denials.reduce(0) { $0 + $1.refusals } == same + cycling, "every refusal accounted for")
            #expect(denials.contains { $0.path == "apps/db" && $0.count == same - 1 })
            #expect(denials.contains { $0.path == "*" && ($0.count ?? 0) > 0 })
            print("refusal flood: \(same + cycling) refusals, \(written) events before the stop, \(denials.count) in all, log grew \(grown) bytes "
                + "(\(Double(grown) / Double(same + cycling)) bytes per refusal)")
        }
    }
}
