import ArgumentParser
import EventLog

struct LogVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the whole log: records, hash chain and head; with --key, every segment key and body.",
        discussion: """
        Exits 1 and lists each problem with its record sequence when the log is damaged.
        Example:
          spike log verify --dir ~/.spike/data --key ~/.spike/data/audit.key
        """
    )

    @OptionGroup var location: LogLocation
    @Option(name: .long, help: "A log private key (PEM) to also open every body.")
    var key: String?

    func run() throws {
        let log = try EventLog.open(directory: location.directory, options: readOnlyOptions)
        let keyring = try key.map { LogKeyring([try LogKeyFile.readPrivateKey(at: $0)]) }
        let report = log.verify(keyring: keyring)
        print("log \(log.logID): \(report)")
        if !report.isIntact { throw ExitCode.failure }
    }
}

var readOnlyOptions: EventLog.Options {
    var options = EventLog.Options()
    options.readOnly = true
    return options
}
