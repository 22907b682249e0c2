import ArgumentParser
import EventLog
import Projections

struct LogVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the whole log: records, hash chain and head; with --key, every segment key and body; with the root key, its check value and every data event's authenticator.",
        discussion: """
        Exits 1 and lists each problem with its record sequence when the log is damaged.
        Examples:
          spike log verify --data-dir ~/.spike/data
          spike log verify --data-dir /backups/spike-2026-12-01 --key ~/.spike/data/audit-key.pem
          spike log verify --data-dir /backups/spike-2026-12-01 --password < password.txt
        """
    )

    @OptionGroup var location: LogLocation
    @OptionGroup var keyOptions: LogKeyOptions
    @OptionGroup var rootKeyOptions: RootKeyOptions
    @Option(name: .long, help: "A head kept by `spike log head`: the log must still hold it (not behind it, not another record there).")
    var expectHead: String?

    func run() throws {
        let expected = try expectHead.map(KeptHead.read)
        let log = try location.open()
        defer { log.close() }
        // Bodies are opened when a key is given, or when the root key is (it is checked on them).
        let keyring = keyOptions.key != nil || rootKeyOptions.given ? try keyOptions.keyring(for: location) : nil
        let report = log.verify(keyring: keyring)
        print("log \(log.logID) in \(log.location): \(report)")
        guard report.isIntact else { throw ExitCode.failure }
        if let expected, let expectHead {
            if let mismatch = try expected.mismatch(in: log) { throw CommandFailure("\(expectHead): \(mismatch)") }
            print("the log holds the expected head \(expected.sequence) (link \(expected.link.prefix(16))…) of \(expectHead)")
        }
        guard rootKeyOptions.given, let keyring else {
            if expected?.mac != nil { print("the expected head's MAC was not checked: give the root key (--password or --shards)") }
            return
        }
        // The root key: it must match the epoch's key check value (`rootKey(for:)` refuses
        // otherwise) and confirm every data event's authenticator.
        try log.reading {
            let projections = try NexusProjections.replay(log, keyring: keyring)
            guard let (rootKey, source) = try rootKeyOptions.rootKey(for: projections.lifecycle) else { return }
            try LogReplay.authenticate(projections, with: rootKey)
            print("root key from \(source): matches the key check value of epoch \(projections.lifecycle.epoch); "
                + "\(projections.unverified.count) data events authenticated")
            let keys = KeyTableCheck.check(projections.data, keyTable: try log.keyTable(), dataKey: rootKey.dataKey(epoch: projections.lifecycle.epoch))
            guard keys.problems.isEmpty else {
                for problem in keys.problems { print("key table: \(problem)") }
                throw CommandFailure("the key table is damaged: \(keys.problems.count) of \(keys.checked) version keys missing or wrong "
                    + "(restore the log from a backup that verifies)")
            }
            print("key table: the keys of all \(keys.checked) versions not destroyed are there and open their values")
            if let expected, let expectHead {
                switch expected.isAuthentic(logID: log.logID, rootKey: rootKey) {
                case true?: print("the expected head's MAC is the root key's")
                case false?: throw CommandFailure("\(expectHead): its MAC is not this root key's: the head file was not made from this log's root key")
                case nil: print("the expected head carries no MAC (it was taken without the root key)")
                }
            }
        }
    }
}
