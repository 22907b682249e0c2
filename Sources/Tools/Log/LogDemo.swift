import ArgumentParser
import Crypto
import EventLog
import Foundation
import Projections

struct LogDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Create a log, append a few events, verify it, read them back, back it up.",
        discussion: """
        The log's key (audit.key, 0600) is created in the directory on first use, and so is a
        demonstration authentication key (auth.key, 0600, 32 bytes in hex) under which the last
        event is written as an authenticated record.
        Example:
          spike log demo --dir /tmp/spike-demo
        """
    )

    @OptionGroup var location: LogLocation

    func run() async throws {
        let directory = location.directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let keyPath = (directory as NSString).appendingPathComponent("audit.key")
        let key = FileManager.default.fileExists(atPath: keyPath)
            ? try LogKeyFile.readPrivateKey(at: keyPath)
            : try LogKeyFile.create(at: keyPath)

        let log = try EventLog.open(directory: directory)
        log.setRecipients([LogRecipient(key.publicKey)], epoch: 1)
        print("log \(log.logID) in \(directory)")

        let events: [(EventKind, String)] = [
            (NexusStarted.kind, #"{"pid":\#(getpid())}"#),
            (KeeperPolled.kind, #"{"keeper":1,"outcome":"has-shard"}"#),
            (KeeperPolled.kind, #"{"keeper":2,"outcome":"empty-404"}"#),
            (KeeperRehydrated.kind, #"{"keeper":2,"distribution":7}"#),
        ]
        // Appended concurrently: they share one transaction (group commit).
        var sequences = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for (kind, body) in events {
                group.addTask { try await log.append(kind: kind.number, body: Array(body.utf8)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // One authenticated record, whose tag an independent reader can check with auth.key.
        let authenticationKey = try Self.authenticationKey(in: directory)
        sequences.append(try await log.append([NewEvent(kind: PolicyPut.kind.number, body: Array(#"{"demo":"authenticated"}"#.utf8),
                                                        authenticationKey: authenticationKey)]).lowerBound)
        print("appended \(sequences.count) events: sequences \(sequences.sorted().map(String.init).joined(separator: ", "))")

        let report = log.verify(keyring: LogKeyring([key]))
        print("verify: \(report)")

        let head = try log.head()?.sequence ?? 0
        let from = head > 8 ? head - 8 : 1
        print("last events:")
        for event in try log.reader(keyring: LogKeyring([key])).events(in: from...head) {
            print("  #\(event.sequence) epoch \(event.header.epoch) \(EventVocabulary.name(of: event.kind)) \(String(decoding: event.body, as: UTF8.self))")
        }

        let backup = directory + ".backup-\(head)"
        if !FileManager.default.fileExists(atPath: backup) {
            try log.backup(to: backup)
            print("backup: \(backup): \(try EventLog.open(directory: backup, options: readOnlyOptions).verify(keyring: LogKeyring([key])))")
        }
        log.close()
        if !report.isIntact { throw ExitCode.failure }
    }

    /// The demonstration authentication key in `directory/auth.key`, created on first use.
    static func authenticationKey(in directory: String) throws -> SymmetricKey {
        let path = (directory as NSString).appendingPathComponent("auth.key")
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            guard let bytes = Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8), bytes.count == 32 else {
                throw ValidationError("\(path) does not hold 32 bytes in hex")
            }
            return SymmetricKey(data: bytes)
        }
        let key = SymmetricKey(size: .bits256)
        let hex = key.withUnsafeBytes { $0.hexString }
        try OutputFile.write(Array((hex + "\n").utf8), to: path)
        return key
    }
}
