import ArgumentParser
import Crypto
import EventLog
import Foundation
import Projections

struct LogExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every event as JSON Lines or CSV, for analysis (DuckDB, jq, a spreadsheet).",
        discussion: """
        One object per event: sequence, time (RFC 3339, UTC, ns), epoch, kind (the stable event
        name), actor (SPIFFE ID), trail, and the body's fields under `data`. Secret values,
        shares and wrapped keys are never written: with --hmac-key-file (or --hmac, which makes a
        key and prints it once on standard error) each becomes `hmac-sha256:<hex>`, so that equal
        values correlate without being revealed; without one they are left out. The HMAC is of
        the clear value when the root key is given (--password or --shards), else of the sealed
        bytes. --headers-only needs no key at all. docs/analysis.md shows the export in DuckDB.
        Examples:
          spike log export --data-dir ~/.spike/data > events.jsonl
          spike log export --format csv --kind KeeperPolled --since 24h --output polls.csv
          spike log export --hmac-key-file hmac.key --password < password.txt > events.jsonl
          spike log export --follow --kind AccessDenied
        """
    )

    @OptionGroup var location: LogLocation
    @OptionGroup var keyOptions: LogKeyOptions
    @OptionGroup var rootKeyOptions: RootKeyOptions
    @OptionGroup var filters: LogEventFilterOptions

    @Option(name: .long, help: "jsonl (default) or csv.") var format: ExportFormat = .jsonl
    @Flag(name: .long, help: "Only sequence, time, epoch and kind: nothing is opened, no key is needed.") var headersOnly = false
    @Option(name: .long, help: "A file holding the HMAC key (64 hex digits, or at least 32 bytes).") var hmacKeyFile: String?
    @Flag(name: .long, help: "Make an HMAC key for this export and print it once on standard error.") var hmac = false
    @Option(name: .long, help: "Write to this file (complete or not at all) instead of standard output.") var output: String?
    @Flag(name: .long, help: "After the events there are, keep writing new ones as they are appended, until interrupted.") var follow = false

    func validate() throws {
        if headersOnly, filters.keeper != nil || filters.pathPrefix != nil || filters.actor != nil {
            throw ValidationError("--keeper, --path-prefix and --actor look into the bodies: they cannot be used with --headers-only")
        }
        if headersOnly, rootKeyOptions.given || hmac || hmacKeyFile != nil || keyOptions.key != nil {
            throw ValidationError("--headers-only opens nothing: drop the key, password, shard and HMAC options")
        }
        if hmac, hmacKeyFile != nil { throw ValidationError("give --hmac or --hmac-key-file, not both") }
        if follow, output != nil { throw ValidationError("--follow writes to standard output (redirect it); it cannot write a file that is complete") }
    }

    func run() async throws {
        let filter = try filters.filter()
        let log = try location.open()
        defer { log.close() }
        let out = try output.map { try OutputFile(path: $0) } ?? OutputFile()
        var progress = ExportProgress()
        // Exports `start...end`; returns the events written.
        let export: (UInt64, UInt64, inout ExportProgress) throws -> UInt64
        if headersOnly {
            export = { start, end, progress in
                var written: UInt64 = 0
                var times = Timestamp.Writer()
                _ = try log.reading {
                    try log.walkHeaders(from: start, through: end) { header in
                        guard header.type != .segment else { return }
                        progress.read += 1
                        guard filter.admits(time: header.time, epoch: header.epoch, kind: header.kind) else { return }
                        try out.append { format.write(EventExporter.headerOnly(header), to: &$0, times: &times) }
                        written += 1
                        progress.tick(written: written)
                    }
                }
                return written
            }
        } else {
            let keyring = try keyOptions.keyring(for: location)
            let exporter = try makeExporter(log: log, keyring: keyring)
            let (format, direct) = (self.format, self.format == .jsonl && !filter.needsBodies)
            export = { start, end, progress in
                var written: UInt64 = 0
                try log.reading {
                    // Opening, redacting and formatting run on the reader's workers, chunk by
                    // chunk; this thread writes the chunks' lines in log order.
                    try log.reader(keyring: keyring).replayChunks(from: start, through: end, transform: { chunk in
                        var batch = ExportBatch()
                        batch.bytes.reserveCapacity(chunk.count * 400)
                        var times = Timestamp.Writer()
                        try chunk.forEach { view in
                            batch.read += 1
                            guard filter.admits(time: view.header.time, epoch: view.header.epoch, kind: view.kind) else { return }
                            do {
                                if direct {
                                    try exporter.appendJSONLine(view.header, body: view.body, to: &batch.bytes, times: &times)
                                } else {
                                    let event = try exporter.export(view.header, body: view.body)
                                    guard filter.admits(event) else { return }
                                    format.write(event, to: &batch.bytes, times: &times)
                                }
                            } catch {
                                throw LogError.corruptRecord(sequence: view.sequence, reason: "\(error)")
                            }
                            batch.written += 1
                        }
                        return batch
                    }, deliver: { batch in
                        try out.write(chunk: batch.bytes)
                        progress.read += batch.read
                        written += batch.written
                        progress.tick(written: written, force: true)
                    })
                }
                return written
            }
        }
        try out.write(format.header())
        var through = try log.head()?.sequence ?? 0
        let written = try export(1, through, &progress)
        progress.finish(written: written)
        if written == 0, filters.given, !follow {
            throw CommandFailure("no event of the \(progress.read) in \(log.location) matches the filter: nothing was written")
        }
        try out.commit()
        guard follow else { return }
        // The live tail: another process appends, so the head is polled (a read transaction
        // each time; cheap), and what is new is written and flushed at once.
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(200))
            let head = try log.head()?.sequence ?? 0
            guard head > through else { continue }
            _ = try export(through + 1, head, &progress)
            try out.flush()
            through = head
        }
    }

    private func makeExporter(log: any EventStore, keyring: LogKeyring) throws -> EventExporter {
        let sealed: EventExporter.SealedFields
        if let hmacKeyFile {
            sealed = .hmac(try Self.readHMACKey(hmacKeyFile))
        } else if hmac {
            let key = SymmetricKey(size: .bits256)
            let hex = key.withUnsafeBytes { $0.hexString }
            FileHandle.standardError.write(Data("HMAC key of this export (shown once; keep it to correlate later exports): \(hex)\n".utf8))
            sealed = .hmac(key)
        } else {
            sealed = .omit
        }
        guard rootKeyOptions.given else { return EventExporter(sealed: sealed) }
        let projections = try log.reading { try NexusProjections.replay(log, keyring: keyring) }
        guard let (rootKey, _) = try rootKeyOptions.rootKey(for: projections.lifecycle) else { return EventExporter(sealed: sealed) }
        let versionKeys = try log.keyTable()
        return EventExporter(sealed: sealed, opener: RootKeyOpener(rootKey: rootKey, epoch: projections.lifecycle.epoch, versionKeys: versionKeys))
    }

    static func readHMACKey(_ path: String) throws -> SymmetricKey {
        guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("cannot read the HMAC key file \(path)") }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if let bytes = Hex.decode(text.utf8), bytes.count >= 32 { return SymmetricKey(data: bytes) }
        guard data.count >= 32 else {
            throw CommandFailure("the HMAC key file \(path) holds \(data.count) bytes: it needs 64 hex digits or at least 32 bytes")
        }
        return SymmetricKey(data: data)
    }
}

/// What one chunk of the log became: its lines, and how many events it read and wrote.
struct ExportBatch: Sendable {
    var bytes: [UInt8] = []
    var read: UInt64 = 0
    var written: UInt64 = 0
}

/// A progress line on standard error while an export runs, when it is a terminal: events
/// written and the rate. Nothing otherwise.
struct ExportProgress {
    var read: UInt64 = 0
    private let enabled = isatty(STDERR_FILENO) == 1
    private let started = ContinuousClock.now
    private var shown = ContinuousClock.now

    mutating func tick(written: UInt64, force: Bool = false) {
        guard enabled, force || written & 1023 == 0 else { return }
        let now = ContinuousClock.now
        guard now - shown >= .milliseconds(250) else { return }
        shown = now
        show(written: written, now: now, end: "")
    }

    func finish(written: UInt64) {
        guard enabled else { return }
        show(written: written, now: .now, end: "\n")
    }

    private func show(written: UInt64, now: ContinuousClock.Instant, end: String) {
        let elapsed = (now - started) / .milliseconds(1) / 1000
        let rate = elapsed > 0 ? Double(written) / elapsed : 0
        FileHandle.standardError.write(Data("\r  \(written) events written of \(read) read, \(Int(rate)) events/s\(end)".utf8))
    }
}
