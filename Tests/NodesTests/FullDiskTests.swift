import ChildProcesses
import EventLog
import Foundation
import Nodes
import Projections
import Testing

/// The log on a volume that fills up (a size-limited tmpfs, mounted by the test): writes are
/// refused with `storage_full` and nothing half-written, every acknowledged write is kept and read,
/// and writes are accepted again once space is freed.
@Suite(.serialized) struct FullDiskTests {
    static func run(_ tool: String, _ arguments: [String]) throws -> Int32 {
        try ChildProcess(executable: tool, arguments: arguments).wait().status
    }

    @Test(.enabled(if: getuid() == 0, "mounting a size-limited tmpfs needs root (CI runs as root)"))
    func aFullVolumeRefusesWritesLosesNothingAndTakesWritesAgainOnceFreed() async throws {
        let mountPoint = NSTemporaryDirectory() + "spike-full-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        #expect(try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", mountPoint]) == 0)
        defer {
            _ = try? Self.run("/bin/umount", ["-l", mountPoint])
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        // Room to give back later.
        let filler = mountPoint + "/filler"
        try Data(repeating: 0x55, count: 768 << 10).write(to: URL(fileURLWithPath: filler))
        let nexus = try await NexusHarness(directory: mountPoint + "/nexus")
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let admin = try nexus.client("/spike/pilot/role/superuser")
            var acknowledged: [String: String] = [:]
            var refusal: (Int, String)?
            for index in 0..<1000 {
                let value = String(repeating: "v", count: 16_000) + "-\(index)"
                let answer = try await nexus.post(admin, "/v1/store/secrets", #"{"path":"fill/\#(index)","values":{"k":"\#(value)"}}"#)
                guard answer.0 == 200 else {
                    refusal = answer
                    break
                }
                acknowledged["fill/\(index)"] = value
            }
            #expect(refusal?.0 == 507 && refusal?.1 == #"{"err":"storage_full"}"#, "\(String(describing: refusal))")
            #expect(acknowledged.count >= 10, "\(acknowledged.count) writes before the volume was full")
            // Reads keep being served, from memory, and the refused write left nothing behind.
            for (path, value) in acknowledged {
                #expect(try await nexus.post(admin, "/v1/store/secrets?action=get", #"{"path":"\#(path)"}"#) == (200, #"{"data":{"k":"\#(value)"}}"#))
            }
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=get", #"{"path":"fill/\#(acknowledged.count)"}"#).0 == 404)
            // Space freed: the next write is taken.
            try FileManager.default.removeItem(atPath: filler)
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"after/space","values":{"k":"v"}}"#) == (200, "{}"))
            // Nothing acknowledged is lost: the log verifies and replays to every acknowledged write.
            let key = try LogKeyFile.readPrivateKey(at: nexus.directory + "/audit-key.pem")
            #expect(nexus.node.log.verify(keyring: LogKeyring([key])).isIntact)
            let replayed = try NexusProjections.replay(nexus.node.log, keyring: LogKeyring([key])).data
            #expect(acknowledged.keys.allSatisfy { replayed.secrets[$0] != nil } && replayed.secrets["after/space"] != nil)
            #expect(replayed.secrets.count == acknowledged.count + 1)
        }
    }
}
