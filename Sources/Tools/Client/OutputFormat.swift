import Foundation
import Yams

/// `--format/-f`: SPIKE's names and aliases (case-sensitive; empty means human).
enum OutputFormat: String {
    case human, json, yaml

    init(parsing text: String) throws {
        switch text {
        case "human", "h", "plain", "p", "": self = .human
        case "json", "j": self = .json
        case "yaml", "y": self = .yaml
        default: throw CommandFailure("invalid format '\(text)'. Valid formats are: human/h/plain/p, json/j, yaml/y")
        }
    }

    static let help = "Output format: human (h, plain, p), json (j) or yaml (y)."

    /// `value` as indented JSON (sorted keys) or YAML; nil for human, which each command writes.
    func render(_ value: some Encodable) throws -> String? {
        switch self {
        case .human:
            return nil
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        case .yaml:
            let encoder = YAMLEncoder()
            encoder.options.sortKeys = true
            var text = try encoder.encode(value)
            while text.hasSuffix("\n") { text.removeLast() }
            return text
        }
    }
}

/// Human times as SPIKE prints them: `2025-01-15 14:30:45 UTC`.
enum HumanTime {
    static func format(_ rfc3339: String?) -> String {
        guard let rfc3339, let date = parse(rfc3339) else { return "0001-01-01 00:00:00 UTC" }
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d UTC", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
