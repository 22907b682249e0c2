import ArgumentParser
import Projections

/// How `spike log export` writes an event: JSON Lines (one object per line), or CSV with a
/// fixed header (the body's fields in one `data` column as a JSON object).
enum ExportFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case jsonl, csv

    static let csvHeader = "sequence,time,epoch,kind,actor,trail,path,keeper,data\n"

    func header() -> String { self == .csv ? Self.csvHeader : "" }

    func write(_ event: ExportedEvent, to out: inout [UInt8], times: inout Timestamp.Writer) {
        switch self {
        case .jsonl: event.appendJSONLine(to: &out, times: &times)
        case .csv: Self.csvRow(event, to: &out, times: &times)
        }
    }

    private static func csvRow(_ event: ExportedEvent, to out: inout [UInt8], times: inout Timestamp.Writer) {
        CanonicalJSONWriter.appendDecimal(event.sequence, to: &out)
        out.append(UInt8(ascii: ","))
        times.write(event.time.nanoseconds, to: &out)
        out.append(UInt8(ascii: ","))
        CanonicalJSONWriter.appendDecimal(UInt64(event.epoch), to: &out)
        out.append(UInt8(ascii: ","))
        field(Array(event.kind.utf8), to: &out)
        out.append(UInt8(ascii: ","))
        if let actor = event.actor { field(Array(actor.utf8), to: &out) }
        out.append(UInt8(ascii: ","))
        if let trail = event.trail { field(Array(trail.utf8), to: &out) }
        out.append(UInt8(ascii: ","))
        if let path = event.path { field(Array(path.utf8), to: &out) }
        out.append(UInt8(ascii: ","))
        if let keeper = event.keeper { out.append(contentsOf: String(keeper).utf8) }
        out.append(UInt8(ascii: ","))
        if let data = event.data { field(Array(data), to: &out) }
        out.append(UInt8(ascii: "\n"))
    }

    /// RFC 4180: quoted when it holds a comma, a quote or a line break; quotes doubled.
    private static func field(_ bytes: [UInt8], to out: inout [UInt8]) {
        let special = bytes.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }
        guard special else { return out.append(contentsOf: bytes) }
        out.append(UInt8(ascii: "\""))
        for byte in bytes {
            if byte == UInt8(ascii: "\"") { out.append(byte) }
            out.append(byte)
        }
        out.append(UInt8(ascii: "\""))
    }
}
