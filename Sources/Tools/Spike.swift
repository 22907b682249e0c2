import ArgumentParser

@main
struct Spike: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spike",
        abstract: "SPIKE in Swift: a SPIFFE-native secrets store.",
        subcommands: [SecretCommand.self, PolicyCommand.self, CipherCommand.self, InitCommand.self, RecoverCommand.self,
                      OperatorGroup.self, AdminGroup.self, ResetCommand.self,
                      NexusCommand.self, KeeperCommand.self,
                      LogCommand.self, DevCommand.self]
    )
}

/// A command's failure at run time: printed to stderr as `Error: …`, exit code 1 (no usage text:
/// the invocation was fine, the world was not).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
