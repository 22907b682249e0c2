import EventLog
import Foundation
import NexusCore
import Nodes
import Projections
import SpikeAPI
import SpikeClient
import Testing

/// SPIKE's recovery shards and this project's admin passwords over mutual TLS, as callers meet
/// them: who may export and restore, SPIKE's wire format, the bugs of SPIKE's restore fixed
/// (400 for a malformed, zero or out-of-range shard, 409 on a ready Nexus, 403 for shards that
/// do not combine to the root key), and admins whose passwords each recover the system.
@Suite struct OperatorRoutesTests {
    static let recover = "/spike/pilot/role/recover"
    static let restore = "/spike/pilot/role/restore"
    static let superuser = "/spike/pilot/role/superuser"

    static func shardBody(id: Int, _ value: [UInt8]) -> String {
        #"{"id":\#(id),"shard":[\#(value.map(String.init).joined(separator: ","))]}"#
    }

    @Test func shardsExportedFromAReadyNexusRestoreASealedOneAndNothingElseDoes() async throws {
        let first = try await NexusHarness()
        try await awaitingCleanup({ await first.stop() }) {
            try await first.initialize()
            let superuser = try first.client(Self.superuser)
            #expect(try await first.post(superuser, "/v1/store/secrets", #"{"path":"apps/db","values":{"k":"v"}}"#).0 == 200)
            // Only the recover role exports; a superuser's attempt is refused and recorded.
            #expect(try await first.post(superuser, "/v1/operator/recover", "{}") == (401, #"{"err":"access_unauthorized"}"#))
            #expect(try first.events().contains { ($0.payload as? AccessDenied)?.operation == "operator.recover" })
            let recoverer = try first.client(Self.recover)
            let (status, body) = try await first.post(recoverer, "/v1/operator/recover", "{}")
            #expect(status == 200)
            let exported = try JSONDecoder().decode(RecoveryShardsResponse.self, from: Data(body.utf8))
            let shard = try #require(exported.shards["1"])
            #expect(exported.shards.count == 1 && shard.count == 32 && shard.contains { $0 != 0 })
            #expect(try await first.post(recoverer, "/v1/operator/recover", "{}") == (200, body), "the same shards at every export")
            let exports = try first.events().filter { $0.payload is RecoveryShardsExported }
            #expect(exports.count == 2 && exports.allSatisfy { $0.actor == "spiffe://spike.ist" + Self.recover })
            #expect(!String(describing: exports).contains(shard.map(String.init).joined(separator: ", ")), "the event holds no shard")
            // A ready Nexus refuses shards (SPIKE's would overwrite its root key).
            let restorer = try first.client(Self.restore)
            #expect(try await first.post(restorer, "/v1/operator/restore", Self.shardBody(id: 1, shard)) == (409, #"{"err":"state_not_sealed"}"#))
            await first.stopNexus()

            let sealed = try await NexusHarness(continuing: first, emptyKeeper: true)
            try await awaitingCleanup({ await sealed.stop() }) {
                try await sealed.waitUntilStarted()
                #expect(sealed.node.status.state == .sealed)
                #expect(try await sealed.post(try sealed.client(Self.recover), "/v1/operator/recover", "{}") == (503, #"{"err":"state_not_ready"}"#))
                let restorer = try sealed.client(Self.restore)
                // Malformed, all-zero, short and out-of-range shards are 400s, and change nothing.
                for bad in ["{", #"{"id":1}"#, Self.shardBody(id: 1, [UInt8](repeating: 0, count: 32)), Self.shardBody(id: 1, Array(shard.prefix(31))),
                            Self.shardBody(id: 0, shard), Self.shardBody(id: 2, shard), Self.shardBody(id: 1001, shard)] {
                    #expect(try await sealed.post(restorer, "/v1/operator/restore", bad) == (400, #"{"err":"api_bad_request"}"#), "\(bad)")
                }
                // Only the restore role restores.
                #expect(try await sealed.post(try sealed.client(Self.superuser), "/v1/operator/restore", Self.shardBody(id: 1, shard)).0 == 401)
                // A shard from another system: refused, recorded, dropped.
                let stranger = shard.map { $0 ^ 0x5a }
                #expect(try await sealed.post(restorer, "/v1/operator/restore", Self.shardBody(id: 1, stranger)) == (403, #"{"err":"shards_incorrect"}"#))
                let failed = try sealed.events().compactMap { $0.payload as? RootKeyRestoreFailed }
                #expect(failed.count == 1 && failed[0].source == .shards && failed[0].shareIndices == [1])
                #expect(sealed.node.status.state == .sealed)
                // The right one restores (threshold 1 here: SPIKE's arithmetic says 1 collected, 0 remaining).
                #expect(try await sealed.post(restorer, "/v1/operator/restore", Self.shardBody(id: 1, shard))
                        == (200, #"{"collected":1,"remaining":0,"restored":true}"#))
                #expect(sealed.node.status.ready)
                let restored = try #require(try sealed.events().compactMap { $0.payload as? RootKeyRestored }.last)
                #expect(restored.source == .shards && restored.shareIndices == [1])
                #expect(try await sealed.post(try sealed.client(Self.superuser), "/v1/store/secrets?action=get", #"{"path":"apps/db"}"#)
                        == (200, #"{"data":{"k":"v"}}"#))
                let deadline = ContinuousClock.now + .seconds(10)
                while !sealed.keeperService.holdsShare, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                #expect(sealed.keeperService.holdsShare, "the empty Keeper is re-seeded")
            }
        }
    }

    @Test func everyAdminsPasswordRecoversAndTheLastAdminStays() async throws {
        let first = try await NexusHarness()
        try await awaitingCleanup({ await first.stop() }) {
            try await first.initialize()
            let superuser = try first.client(Self.superuser)
            let founder = "spiffe://spike.ist" + Self.superuser
            let add = "/v1/operator/admins?action=add"
            #expect(try await first.post(superuser, add, #"{"name":"alice","password":"alice's long password"}"#) == (200, "{}"))
            #expect(try await first.post(superuser, add, #"{"name":"alice","password":"another long password"}"#) == (409, #"{"err":"admin_exists"}"#))
            #expect(try await first.post(superuser, add, #"{"name":"bob","password":"short"}"#) == (400, #"{"err":"password_too_weak"}"#))
            #expect(try await first.post(superuser, add, #"{"name":"","password":"a long enough password"}"#).0 == 400)
            #expect(try await first.post(superuser, add, #"{"name":"bob\u0007","password":"a long enough password"}"#).0 == 400)
            #expect(try await first.post(superuser, "/v1/operator/admins?action=remove", #"{"name":"bob"}"#) == (404, #"{"err":"entity_not_found"}"#))
            // Admins are the superuser's alone; the refusal is recorded.
            #expect(try await first.post(try first.client(Self.recover), add, #"{"name":"mallory","password":"mallory's long password"}"#).0 == 401)
            #expect(try first.events().contains { ($0.payload as? AccessDenied)?.operation == "admin.password.add" })
            let (status, body) = try await first.post(superuser, "/v1/operator/admins?action=list", "{}")
            #expect(status == 200 && !body.contains("sealed") && !body.contains("salt"))
            let listed = try JSONDecoder().decode(AdminListResponse.self, from: Data(body.utf8)).admins
            #expect(listed.map(\.name) == [founder, "alice"] && listed.allSatisfy { $0.since?.hasSuffix("Z") == true })
            #expect(try await first.post(superuser, "/v1/operator/admins?action=change", #"{"name":"alice","password":"alice's new long password"}"#) == (200, "{}"))
            #expect(try await first.post(superuser, "/v1/operator/admins?action=remove", #"{"name":"\#(founder)"}"#) == (200, "{}"))
            #expect(try await first.post(superuser, "/v1/operator/admins?action=remove", #"{"name":"alice"}"#) == (409, #"{"err":"admin_last"}"#))
            let kinds = try first.events().map(\.kind.name).filter { $0.hasPrefix("AdminPassword") }
            #expect(kinds == ["AdminPasswordAdded", "AdminPasswordChanged", "AdminPasswordRemoved"])
            await first.stopNexus()

            // Every Keeper lost: only alice's new password recovers.
            let sealed = try await NexusHarness(continuing: first, emptyKeeper: true)
            try await awaitingCleanup({ await sealed.stop() }) {
                try await sealed.waitUntilStarted()
                let recoverer = try sealed.client(Self.recover)
                let route = "/v1/operator/recover?action=password"
                for old in [NexusHarness.password, "alice's long password"] {
                    #expect(try await sealed.post(recoverer, route, #"{"password":"\#(old)"}"#) == (403, #"{"err":"password_incorrect"}"#))
                }
                #expect(try await sealed.post(recoverer, route, #"{"password":"alice's new long password"}"#) == (200, #"{"admin":"alice"}"#))
                #expect(sealed.node.status.ready)
            }
        }
    }
}
