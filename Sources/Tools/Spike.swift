import ArgumentParser

@main
struct Spike: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spike",
        abstract: "SPIKE in Swift: a SPIFFE-native secrets store.",
        subcommands: [LogCommand.self]
    )
}
