import ArgumentParser
import EventLog
import Foundation
import Projections

/// A log's head as an operator keeps it outside the machine (`spike log head`), and checks a log
/// against later (`spike log verify --expect-head FILE`): the log, the sequence, the chain link
/// and, when the root key was given, the MAC a Keeper's witnessed head carries (LogWitness).
struct KeptHead: Codable, Equatable {
    var logID: String
    var sequence: UInt64
    var link: String
    var epoch: UInt32?
    var mac: String?

    init(logID: LogID, head: ChainHead, witness: LogWitness?) {
        self.logID = logID.description
        sequence = head.sequence
        link = head.hash.description
        epoch = witness?.epoch
        mac = witness?.mac.hexString
    }

    static func read(_ path: String) throws -> KeptHead {
        guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("cannot read \(path)") }
        do {
            return try JSONDecoder().decode(KeptHead.self, from: data)
        } catch {
            throw CommandFailure("\(path) is not a head written by `spike log head` (\(error))")
        }
    }

    /// What is wrong with `log` against this head, or nil when the log holds it.
    func mismatch(in log: any EventStore) throws -> String? {
        guard logID == log.logID.description else { return "the head is of log \(logID), this is log \(log.logID)" }
        let ends = try log.head()?.sequence ?? 0
        guard sequence <= ends else {
            return "the log is behind the expected head: it ends at \(ends), the head kept says \(sequence): "
                + "records were dropped or an older copy of the log was put back"
        }
        guard let ours = try log.link(at: sequence), ours.description == link else {
            return "the log holds another record at the expected head's sequence \(sequence): it is not the log the head was taken of"
        }
        return nil
    }

    /// Whether the MAC is the root key's (nil when the head carries none).
    func isAuthentic(logID: LogID, rootKey: RootKey) -> Bool? {
        guard let epoch, let mac, let macBytes = Hex.decode(mac.utf8), let linkBytes = Hex.decode(link.utf8) else { return nil }
        return LogWitness(epoch: epoch, sequence: sequence, link: Data(linkBytes), mac: Data(macBytes))
            .isAuthentic(logID: logID, rootKey: rootKey, epoch: epoch)
    }
}

struct LogHeadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "head",
        abstract: "Print the log's head (sequence and chain link), authenticated with the root key when it is given.",
        discussion: """
        Keep the output outside the machine (a ticket, a password manager, another host): later,
        `spike log verify --expect-head FILE` tells whether a log is still that log or has been
        rolled back (records dropped, an older copy put back). With the admin password or recovery
        shards the head carries an HMAC under a key derived from the root key, as the heads the
        Keepers witness do, so that a forged head file is told apart too. Run it with the Nexus
        stopped to read the number `spike nexus --accept-log-head` wants.
        Examples:
          spike log head --data-dir ~/.spike/data --password > head.json
          spike log verify --data-dir /restored --expect-head head.json
        """
    )

    @OptionGroup var location: LogLocation
    @OptionGroup var keyOptions: LogKeyOptions
    @OptionGroup var rootKeyOptions: RootKeyOptions
    @Option(name: .long, help: "Write the head to this file (0600) instead of standard output.") var output: String?

    func run() throws {
        let log = try location.open()
        defer { log.close() }
        let head = try log.head() ?? .empty(log.logID)
        var witness: LogWitness?
        if rootKeyOptions.given {
            let keyring = try keyOptions.keyring(for: location)
            try log.reading {
                let lifecycle = try NexusProjections.replay(log, keyring: keyring).lifecycle
                guard let (rootKey, _) = try rootKeyOptions.rootKey(for: lifecycle) else { return }
                witness = LogWitness(head: head, logID: log.logID, epoch: lifecycle.epoch, rootKey: rootKey)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = Array(try encoder.encode(KeptHead(logID: log.logID, head: head, witness: witness))) + Array("\n".utf8)
        if let output { try OutputFile.write(text, to: output) } else { FileHandle.standardOutput.write(Data(text)) }
        if witness == nil {
            FileHandle.standardError.write(Data("note: without the root key (--password or --shards) the head carries no MAC\n".utf8))
        }
    }
}
