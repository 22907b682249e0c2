import ArgumentParser
import EventLog
import Foundation
import PostgresEventStore

/// `spike log copy`: moves a log between a data directory and PostgreSQL, record by record.
struct LogCopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a log, unchanged, between a data directory (LMDB) and PostgreSQL, either way.",
        discussion: """
        Every record is copied as it is stored (still encrypted), so the chain, the head, the
        segment keys and the authenticators are the source's, and so is the log id; the key
        table comes with the head. The target must be a new or empty directory, or a database
        with no log. Both sides are verified afterwards. Stop the Nexus first: a log being
        written is copied up to the head it had when the copy began.
        A PostgreSQL URL takes no password here (the process list shows arguments): set PGPASSWORD.
        Example:
          PGPASSWORD=… spike log copy --from ~/.spike/data --to postgres://spike@db.internal:5432/spike?sslmode=verify-full
        """
    )

    @Option(name: .long, help: ArgumentHelp("The log to copy: a data directory or a postgres:// URL.", valueName: "DIR|URL"))
    var from: String
    @Option(name: .long, help: ArgumentHelp("Where to copy it: a new or empty directory, or a postgres:// URL.", valueName: "DIR|URL"))
    var to: String

    func run() throws {
        let source: any EventStore = LogStoreArgument.isPostgres(from)
            ? try LogStoreArgument.openPostgres(from, readOnly: true)
            : try LogLocation.parse(["--data-dir", from]).openDirectory()
        defer { source.close() }
        let target: any EventStore
        if LogStoreArgument.isPostgres(to) {
            target = try LogStoreArgument.openPostgres(to, readOnly: false, newLogID: source.logID)
        } else {
            var options = EventLog.Options()
            options.newLogID = source.logID
            do { target = try EventLog.open(directory: to, options: options) } catch {
                throw CommandFailure("cannot open \(to) to copy into: \(error)")
            }
        }
        defer { target.close() }
        guard target.logID == source.logID else {
            throw CommandFailure("\(target.location) already holds another log (\(target.logID)): copy into a new directory or an empty database")
        }
        let result: LogCopy.Result
        do {
            result = try LogCopy.copy(from: storage(of: source), to: storage(of: target), logID: source.logID)
        } catch {
            throw CommandFailure("the copy from \(source.location) to \(target.location) stopped: \(error)")
        }
        let sourceReport = source.verify(keyring: nil)
        let targetReport = target.verify(keyring: nil)
        print("copied log \(source.logID): \(result.records) records, \(result.keys) key-table entries, head \(result.head.map { "\($0.sequence) \($0.hash)" } ?? "none")")
        print("source \(source.location): \(sourceReport)")
        print("target \(target.location): \(targetReport)")
        guard sourceReport.isIntact, targetReport.isIntact, targetReport.head == sourceReport.head else { throw ExitCode.failure }
    }

    private func storage(of store: any EventStore) throws -> any RecordStorage {
        switch store {
        case let log as EventLog: log.core.storage
        case let log as PostgresEventStore: log.core.storage
        default: throw CommandFailure("\(store.location): no copy from this kind of store")
        }
    }
}
