import ArgumentParser

/// `spike operator`: SPIKE's break-the-glass recovery shards.
struct OperatorGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator",
        abstract: "Recovery shards: export them while healthy (recover role), restore from them when sealed (restore role).",
        subcommands: [ShardExportCommand.self, ShardRestoreCommand.self])
}
