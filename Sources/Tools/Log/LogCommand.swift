import ArgumentParser
import EventLog
import CProcessControl
import Foundation
import Nodes
import PostgresEventStore

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Read the Nexus event log: export it, audit what went wrong, rebuild the state offline, check and back it up.",
        discussion: """
        Every command reads the log read-only: it works on the live log of a running Nexus (LMDB
        readers never block the writer) or on a copy, in a data directory or in PostgreSQL
        (--postgres-url, the password in PGPASSWORD). `copy` moves a log between the two.
        """,
        subcommands: [LogExport.self, LogAudit.self, LogReplay.self, LogStats.self, LogVerify.self, LogHeadCommand.self, LogBackup.self,
                      LogCopyCommand.self, LogSnapshots.self, LogKeygen.self, LogDemo.self]
    )
}

/// Where the log is: the Nexus data directory, or PostgreSQL.
struct LogLocation: ParsableArguments {
    @Option(name: [.customLong("data-dir"), .customLong("dir")],
            help: "The Nexus data directory holding the log (default: $SPIKE_NEXUS_DATA_DIR, else ~/.spike/data; --dir is an alias).")
    var dataDir: String?
    @Option(name: .customLong("postgres-url"), help: ArgumentHelp(
        "Read the log from PostgreSQL instead (postgres://USER@HOST:PORT/DATABASE, the password in PGPASSWORD); the data directory still holds the audit key.",
        valueName: "URL"))
    var postgresURL: String?

    var directory: String { dataDir ?? NexusDataDirectory.resolve() }

    /// The host audit key the Nexus creates in its data directory.
    var hostAuditKeyPath: String { (directory as NSString).appendingPathComponent("audit-key.pem") }

    /// Opens the log read-only, wherever it is.
    func open() throws -> any EventStore {
        guard let postgresURL else { return try openDirectory() }
        Self.keepFreedMemory()
        return try LogStoreArgument.openPostgres(postgresURL, readOnly: true)
    }

    /// Opens the log in the data directory read-only; a directory that is missing, unreadable
    /// or holds no log is one clear error naming it.
    func openDirectory() throws -> EventLog {
        let directory = try checkedDirectory()
        Self.keepFreedMemory()
        do {
            return try EventLog.open(directory: directory, options: readOnlyOptions)
        } catch {
            throw CommandFailure("\(directory) does not hold a readable log: \(error)")
        }
    }

    /// The data directory, once it is found to hold a readable log (else one clear error naming it).
    func checkedDirectory() throws -> String {
        let directory = self.directory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw CommandFailure("\(directory) does not exist: give the Nexus data directory with --data-dir")
        }
        guard isDirectory.boolValue else { throw CommandFailure("\(directory) is not a directory: give the Nexus data directory with --data-dir") }
        guard FileManager.default.isReadableFile(atPath: directory) else { throw CommandFailure("\(directory) is not readable by this user") }
        let data = (directory as NSString).appendingPathComponent("data.mdb")
        guard FileManager.default.fileExists(atPath: data) else { throw CommandFailure("\(directory) holds no log (there is no data.mdb in it)") }
        guard FileManager.default.isReadableFile(atPath: data) else { throw CommandFailure("\(data) is not readable by this user") }
        return directory
    }

    /// The tools read a log chunk by chunk, each a few megabytes allocated and freed on the
    /// reader's threads; glibc would hand each back to the kernel and fault it in again (a tenth
    /// of an export's time, measured). A batch tool keeps it instead.
    private static func keepFreedMemory() {
        spike_keep_freed_memory()
    }
}

/// Which key opens the event bodies.
struct LogKeyOptions: ParsableArguments {
    @Option(name: .long, help: "An audit private key (PEM) to open the bodies with (default: the host audit key, DATA_DIR/audit-key.pem).")
    var key: String?

    func keyring(for location: LogLocation) throws -> LogKeyring {
        let path = key ?? location.hostAuditKeyPath
        do {
            return LogKeyring([try LogKeyFile.readPrivateKey(at: path)])
        } catch {
            let hint = key == nil ? " (on the Nexus host it is created with the log; elsewhere give an operator's key with --key, or use --headers-only)" : ""
            throw CommandFailure("cannot read the audit key \(path): \(error)\(hint)")
        }
    }
}

var readOnlyOptions: EventLog.Options {
    var options = EventLog.Options()
    options.readOnly = true
    return options
}

extension EventStore {
    /// Runs a read of the log; what fails in it (a damaged record, a key that opens nothing) is
    /// one line naming the log and the record. A command's own failures pass as they are.
    func reading<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let failure as CommandFailure {
            throw failure
        } catch {
            throw CommandFailure("the log in \(location): \(error)")
        }
    }
}

/// A log named on the command line: a directory, or a PostgreSQL URL (never with its password).
enum LogStoreArgument {
    static func isPostgres(_ text: String) -> Bool { text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") }

    static func postgresURL(_ text: String) throws -> PostgresURL {
        do { return try PostgresURL.fromArgument(text, environment: ProcessInfo.processInfo.environment) } catch {
            throw CommandFailure("\(error)")
        }
    }

    static func openPostgres(_ text: String, readOnly: Bool, newLogID: LogID? = nil) throws -> PostgresEventStore {
        let url = try postgresURL(text)
        var options = PostgresEventStore.Options()
        options.readOnly = readOnly
        options.newLogID = newLogID
        do { return try PostgresEventStore.open(url: url, options: options) } catch {
            throw CommandFailure("\(url) does not hold a readable log: \(error)")
        }
    }
}
