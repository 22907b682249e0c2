import ArgumentParser
import Crypto
import EventLog
import Foundation
import Nodes
import Projections

/// `spike reset`: the last resort when the root key is lost for good (no Keepers, no password).
struct ResetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Close the system's epoch for good, keeping its history (run on the Nexus host, the Nexus stopped).",
        discussion: """
        Appends a SystemReset event to the Nexus' log: the current epoch is closed, its secrets and
        policies are gone from the state and can never be decrypted again (their version keys are
        shredded from the log's key table in the same transaction), and the next Nexus start waits
        for `spike init`, which opens a new epoch with a new admin password and new shares for the
        Keepers. Nothing earlier is erased: every event stays in the log, readable with the host
        audit key, so that what went wrong can be audited afterwards.

        Refused while a Nexus runs on the directory. Asks you to type a confirmation on a terminal;
        --yes is for scripts.
          spike reset --data-dir ~/.spike/data --reason "root key lost: all Keepers and the password"

        --wipe is the true factory reset: it deletes the log itself (every event, the history
        included), its key table and the host audit key, and says what it deleted. Nothing of the
        system can be read or audited afterwards.
        """)

    @Option(name: .long, help: "The Nexus' data directory (default: SPIKE_NEXUS_DATA_DIR, else ~/.spike/data).")
    var dataDir: String?
    @Option(name: .long, help: "Why, for the audit trail (stored in the event).")
    var reason: String = ""
    @Flag(name: .long, help: "Do not ask for a confirmation (scripts).")
    var yes = false
    @Flag(name: .long, help: "Factory reset: delete the log, its history and the audit key instead of closing the epoch.")
    var wipe = false

    /// The log, for writing: refused while a Nexus holds its writer lock.
    static func openForWriting(_ directory: String) throws -> EventLog {
        let result = Result { () throws(LogError) -> EventLog in try EventLog.open(directory: directory) }
        if case .failure(.writerLocked) = result {
            throw CommandFailure("a Nexus is running on \(directory) (it holds the log's writer lock): stop it first")
        }
        return try result.get()
    }

    func run() async throws {
        let directory = dataDir ?? NexusDataDirectory.resolve()
        guard FileManager.default.fileExists(atPath: directory + "/data.mdb") else {
            throw CommandFailure("no Nexus log in \(directory)")
        }
        if wipe { return try await wipeDirectory(directory) }
        let log = try Self.openForWriting(directory)
        defer { log.close() }
        let auditKey = try LogKeyFile.readPrivateKey(at: directory + "/audit-key.pem")
        let lifecycle = try NexusProjections.replay(log, keyring: LogKeyring([auditKey])).lifecycle
        guard let genesis = lifecycle.genesis else {
            throw CommandFailure("nothing to reset: the log in \(directory) has no open epoch (not initialized, or reset already)")
        }
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                throw CommandFailure("confirm on a terminal, or pass --yes: a reset closes epoch \(genesis.epoch) for good")
            }
            let phrase = "reset epoch \(genesis.epoch)"
            FileHandle.standardError.write(Data("This closes epoch \(genesis.epoch) for good: its secrets and policies can never be read again.\nType \"\(phrase)\" to go on: ".utf8))
            guard readLine(strippingNewline: true) == phrase else { throw CommandFailure("not confirmed: nothing changed") }
        }
        let actor = "host:\(NSUserName())@\(ProcessInfo.processInfo.hostName)"
        let event = DomainEvent(actor: actor, trail: "reset", SystemReset(epoch: genesis.epoch, reason: reason))
        let versionKeys = Array(try log.keyTable().keys)
        // The reset is sealed to the host audit key only: the epoch's key is what is being given up.
        log.setRecipients([LogRecipient(auditKey.publicKey)], epoch: genesis.epoch)
        let sequences = try await log.append([NewEvent(kind: event.kind.number, body: event.encoded())],
                                             keyChanges: KeyTableChanges(deletes: versionKeys), expectedHead: nil)
        print("reset: epoch \(genesis.epoch) is closed (record \(sequences.lowerBound)); \(versionKeys.count) version keys shredded; "
              + "the history stays in \(directory). Start the Nexus and run `spike init` with a new admin password.")
    }

    /// The files of a Nexus data directory that `--wipe` deletes: the log, its lock files and
    /// the host audit key (without which nothing left elsewhere of the history can be read).
    static let wipedFiles = ["data.mdb", "lock.mdb", "writer.lock", "audit-key.pem"]

    private func wipeDirectory(_ directory: String) async throws {
        // Held while deleting: no Nexus can start on the log half deleted.
        let log = try Self.openForWriting(directory)
        let statistics = (events: (try? log.head()?.sequence) ?? 0, bytes: log.storedBytes)
        let present = Self.wipedFiles.filter { FileManager.default.fileExists(atPath: directory + "/" + $0) }
        let summary = "the log in \(directory) (\(statistics.events) records, \(statistics.bytes) bytes: every secret, policy and "
            + "event, the history included) and the host audit key that reads it: \(present.joined(separator: ", "))"
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                log.close()
                throw CommandFailure("confirm on a terminal, or pass --yes: --wipe deletes \(summary)")
            }
            let phrase = "wipe \(directory)"
            FileHandle.standardError.write(Data("This deletes \(summary). Nothing can be recovered or audited afterwards.\nType \"\(phrase)\" to go on: ".utf8))
            guard readLine(strippingNewline: true) == phrase else {
                log.close()
                throw CommandFailure("not confirmed: nothing changed")
            }
        }
        var failures: [String] = []
        for name in present where name != "writer.lock" {
            do { try FileManager.default.removeItem(atPath: directory + "/" + name) } catch { failures.append("\(name): \(error.localizedDescription)") }
        }
        log.close()
        unlink(directory + "/writer.lock")
        guard failures.isEmpty else { throw CommandFailure("the wipe of \(directory) is incomplete: \(failures.joined(separator: "; "))") }
        print("wiped: deleted \(summary). The next Nexus start creates a new, empty log and audit key; run `spike init`.")
    }
}
