import ArgumentParser
import EventLog
import Foundation
import Projections

struct LogStats: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Count the log's records by kind, epoch and day, with their bytes; no key needed.",
        discussion: """
        From the clear record headers alone. Shows what share of the log is Keeper polling and
        refusals (the two kinds that grow with time rather than with use).
        Examples:
          spike log stats --data-dir ~/.spike/data
          spike log stats --json
        """
    )

    @OptionGroup var location: LogLocation
    @Flag(name: .long, help: "Write the figures as JSON.") var json = false

    func run() throws {
        let log = try location.open()
        defer { log.close() }
        var usage = LogUsage()
        _ = try log.reading { try log.walkHeaders { usage.apply($0) } }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(usage), as: UTF8.self))
            return
        }
        print(Self.render(usage, log: log))
    }

    static func render(_ usage: LogUsage, log: any EventStore) -> String {
        func bytes(_ count: Int) -> String {
            count >= 10 << 20 ? "\(count >> 20) MiB" : count >= 10 << 10 ? "\(count >> 10) KiB" : "\(count) B"
        }
        func rows(_ tallies: [String: LogUsage.Tally], order: (String, String) -> Bool) -> [String] {
            let width = max(8, tallies.keys.map(\.count).max() ?? 0)
            return tallies.keys.sorted(by: order).map { key in
                let tally = tallies[key]!
                return "  " + key.padding(toLength: width, withPad: " ", startingAt: 0)
                    + "  " + String(tally.records).leftPadded(10) + " records  " + bytes(tally.bytes).leftPadded(9)
            }
        }
        let events = usage.records.records - usage.segments.records
        var lines = ["log \(log.logID) in \(log.location): \(usage.records.records) records (\(events) events, \(usage.segments.records) segments), "
            + "\(bytes(usage.records.bytes)) of records, \(bytes(Int(log.storedBytes))) on disk"]
        if let first = usage.first, let last = usage.last {
            let days = max(1.0 / 24, first.seconds(until: last) / 86_400)
            lines.append("from \(first.short) to \(last.short): \(bytes(Int(Double(usage.records.bytes) / days))) per day on average")
        }
        let polling = usage.share(of: [KeeperPolled.kind]), refusals = usage.share(of: [AccessDenied.kind])
        lines.append(String(format: "Keeper polling: %.1f%% of events, %.1f%% of bytes; refusals: %.1f%% of events, %.1f%% of bytes",
                            polling.records * 100, polling.bytes * 100, refusals.records * 100, refusals.bytes * 100))
        lines.append("by kind:")
        lines += rows(usage.byKind) { usage.byKind[$0]!.records > usage.byKind[$1]!.records }
        lines.append("by epoch:")
        lines += rows(usage.byEpoch) { UInt32($0) ?? 0 < UInt32($1) ?? 0 }
        lines.append("by day (growth):")
        lines += rows(usage.byDay, order: <)
        return lines.joined(separator: "\n")
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
