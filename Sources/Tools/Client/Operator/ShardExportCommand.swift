import ArgumentParser
import Foundation
import NexusCore
import NIOHTTP1
import Projections
import SecretSharing
import SpikeAPI
import SpikeClient

/// `spike operator recover`: writes the recovery shards of a healthy Nexus to files.
struct ShardExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Save the recovery shards of a healthy Nexus (recover role).",
        discussion: """
        Writes one file per share, spike.recovery.<i>.txt (mode 0600, `spike:<i>:<hex>`), to
        $SPIKE_PILOT_RECOVERY_DIR/recover (else ~/.spike/recover), removing earlier ones. Any
        threshold of them give a sealed Nexus its root key back (`spike operator restore`). The
        export is recorded in the log. Encrypt the files, keep them apart, erase these copies.
        """)

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = try await NexusAPI.connect(as: .recover)
        defer { api.close() }
        var response = try await api.call(.operatorRecover, EmptyRequest(), as: RecoveryShardsResponse.self)
        defer { for key in response.shards.keys { Shamir.zero(&response.shards[key]!) } }
        var files: [RecoveryShard] = []
        for (key, value) in response.shards {
            guard let index = Int(key), index >= 1, value.count == Shamir.secretLength, value.contains(where: { $0 != 0 }) else {
                throw CommandFailure("the Nexus sent an invalid shard (\(key)): nothing was saved; check the Nexus' logs")
            }
            files.append(RecoveryShard(index: index, value: value))
        }
        guard !files.isEmpty else { throw CommandFailure("No shards found: nothing was saved. Check the Nexus' logs.") }
        let directory = try RecoveryShard.directory(environment: Workload.environment)
        // Earlier files are replaced: they belong to this root key too, or to one that is gone.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        where name.hasPrefix("spike.recovery") && name.hasSuffix(".txt") {
            try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(name))
        }
        for file in files.sorted(by: { $0.index < $1.index }) {
            let path = (directory as NSString).appendingPathComponent(file.fileName)
            // Created 0600 before a byte is written: the shard is never readable by others.
            var bytes = Array(file.text.utf8)
            defer { Shamir.zero(&bytes) }
            try OutputFile.write(bytes, to: path)
        }
        print("""

          SPIKE Recovery shards saved to the recovery directory:
          \(directory)

          Please make sure that:
            1. You encrypt these shards and keep them safe.
            2. Securely erase the shards from the
               recovery directory after you encrypt them
               and save them to a safe location.

          If you lose these shards, you will not be able to recover
          SPIKE Nexus in the unlikely event of a total system crash.

        """)
    }
}
