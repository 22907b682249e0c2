import EventLog
import Foundation
import NexusCore
import Nodes
import Projections
import SpikeAPI
import SpikeClient
import Testing

/// `spike operator rotate` over mutual TLS (ADR-0009): under concurrent writes nothing
/// acknowledged is lost, every earlier version and ciphertext still opens, the Keeper gets a new
/// share, the link is shredded once it holds it, the admin's password moved to the new key, and
/// the recovery shards exported before are refused afterwards.
@Suite struct RotationTests {
    static let superuser = "/spike/pilot/role/superuser"

    @Test func aRotationUnderLoadKeepsEverySecretAndRetiresTheOldShares() async throws {
        let first = try await NexusHarness()
        try await awaitingCleanup({ await first.stop() }) {
            try await first.initialize()
            let admin = try first.client(Self.superuser)
            for version in 1...2 {
                #expect(try await first.post(admin, "/v1/store/secrets", #"{"path":"apps/db","values":{"v":"\#(version)"}}"#).0 == 200)
            }
            let (encrypted, ciphertext) = try await first.post(admin, "/v1/cipher/encrypt", #"{"plaintext":"aGVsbG8="}"#)
            #expect(encrypted == 200)
            let (exported, shards) = try await first.post(try first.client("/spike/pilot/role/recover"), "/v1/operator/recover", "{}")
            #expect(exported == 200)
            let oldShard = try #require(try JSONDecoder().decode(RecoveryShardsResponse.self, from: Data(shards.utf8)).shards["1"])
            // Only the superuser rotates.
            #expect(try await first.post(try first.client("/spike/pilot/role/recover"), "/v1/operator/rotate", "{}").0 == 401)

            // Writers keep writing while the root key rotates.
            let acknowledged = try await withThrowingTaskGroup(of: [String: String].self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        var written: [String: String] = [:]
                        for index in 0..<25 {
                            let path = "load/\(writer)/\(index)"
                            if try await first.post(admin, "/v1/store/secrets", #"{"path":"\#(path)","values":{"v":"\#(index)"}}"#).0 == 200 {
                                written[path] = "\(index)"
                            }
                        }
                        return written
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(20))
                    let (status, body) = try await first.post(admin, "/v1/operator/rotate", "{}")
                    #expect(status == 200 && body == #"{"epoch":2,"recoveryFilesInvalidated":true}"#, "\(body)")
                    return [:]
                }
                return try await group.reduce(into: [:]) { $0.merge($1) { a, _ in a } }
            }
            #expect(acknowledged.count == 100, "every write during the rotation was acknowledged")
            for (path, value) in acknowledged {
                #expect(try await first.post(admin, "/v1/store/secrets?action=get", #"{"path":"\#(path)"}"#) == (200, #"{"data":{"v":"\#(value)"}}"#))
            }
            for version in 1...2 {
                #expect(try await first.post(admin, "/v1/store/secrets?action=get", #"{"path":"apps/db","version":\#(version)}"#)
                        == (200, #"{"data":{"v":"\#(version)"}}"#))
            }
            #expect(try await first.post(admin, "/v1/cipher/decrypt", ciphertext) == (200, #"{"plaintext":"aGVsbG8="}"#))
            #expect(first.node.status.epoch == 2 && first.node.status.ready)
            // The Keeper gets its new share; then the link is shredded.
            let deadline = ContinuousClock.now + .seconds(10)
            while try !first.events().contains(where: { $0.payload is RootKeyRotationCompleted }), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let events = try first.events()
            let rotated = try #require(events.compactMap { $0.payload as? RootKeyRotated }.first)
            #expect(rotated.fromEpoch == 1 && rotated.epoch == 2 && rotated.next.passwordWraps.count == 1)
            #expect(events.contains { $0.payload is RootKeyRotationCompleted })
            #expect(try first.node.log.keyTable()[Array(rotated.link)] == nil, "the link is shredded")
            #expect(try first.node.log.keyTable().keys.allSatisfy { $0.first == UInt8(ascii: "v") })
            await first.stopNexus()

            // Everything lost but the log: the old shard is refused, the password (moved to the new key) recovers.
            let sealed = try await NexusHarness(continuing: first, emptyKeeper: true)
            try await awaitingCleanup({ await sealed.stop() }) {
                try await sealed.waitUntilStarted()
                #expect(sealed.node.status.state == .sealed && sealed.node.status.epoch == 2)
                let restorer = try sealed.client("/spike/pilot/role/restore")
                #expect(try await sealed.post(restorer, "/v1/operator/restore", #"{"id":1,"shard":[\#(oldShard.map(String.init).joined(separator: ","))]}"#)
                        == (403, #"{"err":"shards_incorrect"}"#))
                #expect(try await sealed.post(try sealed.client("/spike/pilot/role/recover"), "/v1/operator/recover?action=password",
                                              #"{"password":"\#(NexusHarness.password)"}"#).0 == 200)
                let admin = try sealed.client(Self.superuser)
                #expect(try await sealed.post(admin, "/v1/store/secrets?action=get", #"{"path":"apps/db","version":1}"#) == (200, #"{"data":{"v":"1"}}"#))
                #expect(try await sealed.post(admin, "/v1/store/secrets?action=get", #"{"path":"load/3/24"}"#) == (200, #"{"data":{"v":"24"}}"#))
                #expect(try await sealed.post(admin, "/v1/cipher/decrypt", ciphertext) == (200, #"{"plaintext":"aGVsbG8="}"#))
            }
        }
    }
}
