import ArgumentParser
import EventLog

struct LogBackup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the log (hot, compacted) into an empty directory and verify the copy.",
        discussion: """
        Appends may continue while the copy is made.
        Example:
          spike log backup --data-dir ~/.spike/data --to /backups/spike-2026-11-23
        """
    )

    @OptionGroup var location: LogLocation
    @Option(name: .long, help: "The directory to copy into (created if missing; must be empty).")
    var to: String

    func run() throws {
        guard location.postgresURL == nil else {
            throw CommandFailure("a log in PostgreSQL is backed up with PostgreSQL's own tools (pg_dump, base backups), or copied into a directory with `spike log copy --from URL --to DIR`")
        }
        let log = try location.openDirectory()
        defer { log.close() }
        do {
            try log.backup(to: to)
        } catch {
            throw CommandFailure("cannot back up the log in \(log.directory) to \(to): \(error)")
        }
        let copy = try EventLog.open(directory: to, options: readOnlyOptions)
        let report = copy.verify()
        print("backup of log \(log.logID) in \(to): \(report)")
        if !report.isIntact { throw ExitCode.failure }
    }
}
