import ArgumentParser

/// `spike operator`: SPIKE's break-the-glass recovery shards.
struct OperatorGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator",
        abstract: "Recovery shards (export while healthy: recover role; restore when sealed: restore role) and root-key rotation (superuser).",
        subcommands: [ShardExportCommand.self, ShardRestoreCommand.self, RotateCommand.self])
}
