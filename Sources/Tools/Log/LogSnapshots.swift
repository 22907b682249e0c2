import ArgumentParser
import EventLog
import Foundation
import Projections

struct LogSnapshots: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "Show the snapshot of the Nexus' data kept beside the log, or delete it.",
        discussion: """
        A snapshot is derived data (ADR-0017): a start folds the Nexus' data from it and the log
        after it. Without the root key only its clear header can be read: the record it stands
        for, its epoch, when it was taken, and whether that record of this log has the link it
        names. Deleting it loses nothing: the next start folds the whole log (and writes another).
        An LMDB log is changed only with its Nexus stopped.
        Examples:
          spike log snapshots --data-dir ~/.spike/data
          spike log snapshots --data-dir ~/.spike/data --delete
        """
    )

    @OptionGroup var location: LogLocation
    @Flag(name: .long, help: "Delete the snapshot.") var delete = false

    func run() throws {
        let log: any EventStore
        if !delete {
            log = try location.open()
        } else if let url = location.postgresURL {
            log = try LogStoreArgument.openPostgres(url, readOnly: false)
        } else {
            log = try Self.openForWriting(location)
        }
        defer { log.close() }
        guard let stored = try log.reading({ try log.latestSnapshot() }) else {
            print("no snapshot in \(log.location): the next start folds the whole log")
            return
        }
        let described: String
        do {
            let header = try ProjectionSnapshot.Header(stored: stored.bytes)
            let linked = try log.reading { try log.link(at: header.sequence) } == header.link
            described = "snapshot of record \(header.sequence) (epoch \(header.epoch)), taken \(Timestamp(milliseconds: header.takenAt).short), "
                + "\(stored.bytes.count) bytes; " + (linked ? "the log's record \(header.sequence) has its link"
                    : "the log's record \(header.sequence) does not have its link: a start ignores it")
        } catch {
            described = "snapshot of record \(stored.sequence), \(stored.bytes.count) bytes, unreadable: \(error) (a start ignores it)"
        }
        guard delete else {
            print(described)
            return
        }
        try log.reading { try log.deleteSnapshots() }
        print("deleted the \(described.prefix { $0 != ";" }): the next start folds the whole log")
    }

    /// The log in the data directory, checked as the read-only tools check it, opened to write.
    private static func openForWriting(_ location: LogLocation) throws -> EventLog {
        let directory = try location.checkedDirectory()
        let result = Result { () throws(LogError) -> EventLog in try EventLog.open(directory: directory) }
        switch result {
        case .success(let log):
            return log
        case .failure(.writerLocked):
            throw CommandFailure("a Nexus has the log in \(directory) open: stop it first (an LMDB log has one writer)")
        case .failure(let error):
            throw CommandFailure("cannot open the log in \(directory) to change it: \(error)")
        }
    }
}
