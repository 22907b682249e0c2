import ArgumentParser
import Foundation
import NexusCore
import NIOHTTP1
import Projections
import SecretSharing
import SpikeAPI
import SpikeClient

/// `spike operator restore`: one recovery shard for a sealed Nexus per call.
struct ShardRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Give a sealed Nexus one recovery shard (restore role); run once per shard.",
        discussion: """
        Reads one shard (the content of a spike.recovery.<i>.txt file) from a hidden prompt on a
        terminal or from standard input, never from an argument, and sends it to the Nexus. Once
        threshold shards are in, the Nexus checks their combination against its key check value:
        the right set makes it ready and re-seeds its Keepers; a wrong set is refused, recorded,
        and every shard given so far is dropped.
          spike operator restore < spike.recovery.1.txt
        """)

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let input = try PasswordInput.read(file: nil, prompt: "(your input will be hidden as you paste/type it)\nEnter recovery shard: ")
        var shard = try RecoveryShard.parse(input)
        defer { Shamir.zero(&shard.value) }
        let api = try await NexusAPI.connect(as: .restore)
        defer { api.close() }
        let response = try await api.post(.operatorRestore, ShardRestoreRequest(id: shard.index, shard: shard.value))
        switch (response.status.code, NexusAPI.errorCode(response)) {
        case (200, _):
            guard let status = try? JSONDecoder().decode(ShardRestoreResponse.self, from: Data(response.body)) else {
                throw CommandFailure("Didn't get any status while trying to restore SPIKE.")
            }
            if status.restored {
                print("\n  SPIKE is now restored and ready to use.\n")
            } else {
                print("""

                 Shards collected:  \(status.collected)
                 Shards remaining:  \(status.remaining)
                 Please run `spike operator restore` again to provide the remaining shards.

                """)
            }
        case (_, .shardsIncorrect):
            throw CommandFailure("these shards do not combine to this system's root key: the attempt is recorded and "
                + "every shard given so far was dropped; start again with shards exported from this system")
        case (_, .notSealed):
            throw CommandFailure("the Nexus is not sealed: it holds its root key already (or the system is not initialized), "
                + "so there is nothing to restore")
        case (400, _):
            throw CommandFailure("the Nexus refused the shard: its index is outside this system's shares, or it is malformed")
        case (401, _):
            throw CommandFailure("the Nexus refused \(api.caller): restoring needs the restore role")
        default:
            throw APIFailure.failure(response)
        }
    }
}
