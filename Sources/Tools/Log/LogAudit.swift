import ArgumentParser
import EventLog
import Foundation
import Projections

struct LogAudit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Report what went wrong, and in what order: crashes, sealed periods, Keepers, restores, resets, refusals.",
        discussion: """
        Reads every epoch, resets included, with the host audit key (or --key): Nexus starts,
        clean stops and crashes (a start with no stop before it), sealed periods and how each
        ended, each Keeper's availability, root-key restores and failures, password and rotation
        changes, resets and their reasons, refusals by identity; the findings on top.
        Examples:
          spike log audit --data-dir ~/.spike/data
          spike log audit --since 24h --json | jq .findings
          spike log audit --html report.html
        """
    )

    @OptionGroup var location: LogLocation
    @OptionGroup var keyOptions: LogKeyOptions
    @OptionGroup var time: LogTimeOptions
    @Flag(name: .long, help: "Write the report as JSON (for machines) instead of text.") var json = false
    @Option(name: .long, help: "Also write the report as one self-contained HTML page with an SVG timeline.") var html: String?

    func run() throws {
        let filter = try time.filter()
        let log = try location.open()
        defer { log.close() }
        let keyring = try keyOptions.keyring(for: location)
        let report = try Self.report(of: log, keyring: keyring, filter: filter)
        if time.given, report.events == 0 {
            throw CommandFailure("no event in \(log.location) matches --since/--until/--epoch: there is nothing to report")
        }
        if let html {
            let file = try OutputFile(path: html)
            try file.write(AuditHTML.render(report))
            try file.commit()
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(AuditText.render(report), terminator: "")
            if let html { print("\nHTML report: \(html)") }
        }
    }

    /// Folds the log into the report. Bodies of kinds the report does not read (the data
    /// events) are not decoded, only counted.
    static func report(of log: any EventStore, keyring: LogKeyring, filter: EventFilter) throws -> AuditReport {
        var timeline = AuditTimeline(logID: "\(log.logID)", head: try log.head()?.sequence ?? 0)
        // Bodies are decoded on the reader's workers, chunk by chunk (JSON decoding is most of
        // the report's cost); this thread folds them in log order.
        struct Folded: Sendable {
            var sequence: UInt64, time: Int64, epoch: UInt32
            var event: DomainEvent?
        }
        try log.reading {
            try log.reader(keyring: keyring).replayChunks(from: 1, through: nil, transform: { chunk in
                var folded: [Folded] = []
                folded.reserveCapacity(chunk.count)
                try chunk.forEach { view in
                    guard filter.admits(time: view.header.time, epoch: view.header.epoch, kind: view.kind) else { return }
                    var event: DomainEvent?
                    if AuditTimeline.reads(kind: view.kind) {
                        do {
                            event = try DomainEvent.decode(kind: view.kind, body: view.body)
                        } catch {
                            throw LogError.corruptRecord(sequence: view.sequence, reason: "\(error)")
                        }
                    }
                    folded.append(Folded(sequence: view.sequence, time: view.header.time, epoch: view.header.epoch, event: event))
                }
                return folded
            }, deliver: { folded in
                for item in folded { timeline.apply(item.event, sequence: item.sequence, time: item.time, epoch: item.epoch) }
            })
        }
        return timeline.finished()
    }
}
