import ArgumentParser
import EventLog
import Nodes

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Work with the Nexus event log.",
        subcommands: [LogDemo.self, LogVerify.self, LogBackup.self, LogKeygen.self]
    )
}

/// Options shared by the log commands.
struct LogLocation: ParsableArguments {
    @Option(name: .long, help: "The log's data directory (default: $SPIKE_NEXUS_DATA_DIR or ~/.spike/data).")
    var dir: String?

    var directory: String { dir ?? NexusDataDirectory.resolve() }
}
