import ArgumentParser
import Projections

/// How `spike log export` writes an event: JSON Lines (one object per line), or CSV with a
/// fixed header (the body's fields in one `data` column as a JSON object).
enum ExportFormat: String, ExpressibleByArgument, CaseIterable {
    case jsonl, csv

    static let csvHeader = "sequence,time,epoch,kind,actor,trail,path,keeper,data\n"

    func header() -> String { self == .csv ? Self.csvHeader : "" }

    func write(_ event: ExportedEvent, to out: inout [UInt8]) {
        switch self {
        case .jsonl: Self.jsonLine(event, to: &out)
        case .csv: Self.csvRow(event, to: &out)
        }
    }

    private static func jsonLine(_ event: ExportedEvent, to out: inout [UInt8]) {
        out.append(contentsOf: #"{"sequence":"#.utf8)
        decimal(event.sequence, to: &out)
        out.append(contentsOf: #","time":""#.utf8)
        event.time.write(to: &out)
        out.append(contentsOf: #"","epoch":"#.utf8)
        decimal(UInt64(event.epoch), to: &out)
        out.append(contentsOf: #","kind":""#.utf8)
        out.append(contentsOf: event.kind.utf8)
        out.append(UInt8(ascii: "\""))
        if let actor = event.actorJSON {
            out.append(contentsOf: #","actor":"#.utf8)
            out.append(contentsOf: actor)
        }
        if let trail = event.trailJSON {
            out.append(contentsOf: #","trail":"#.utf8)
            out.append(contentsOf: trail)
        }
        if let data = event.data {
            out.append(contentsOf: #","data":"#.utf8)
            out.append(contentsOf: data)
        }
        out.append(contentsOf: "}\n".utf8)
    }

    private static func csvRow(_ event: ExportedEvent, to out: inout [UInt8]) {
        decimal(event.sequence, to: &out)
        out.append(UInt8(ascii: ","))
        event.time.write(to: &out)
        out.append(UInt8(ascii: ","))
        decimal(UInt64(event.epoch), to: &out)
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

    private static func decimal(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 { return out.append(UInt8(ascii: "0") + UInt8(value)) }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            while rest > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[index]) }
        }
    }
}
