import EventLog
import Foundation

/// One recovery shard in SPIKE's text form, `spike:<index>:<64 lowercase hex>` (reference §6):
/// what `spike operator recover` writes, `spike operator restore` and the log tools read.
public struct RecoveryShard: Equatable, Sendable {
    public var index: Int
    public var value: [UInt8]

    public init(index: Int, value: [UInt8]) {
        self.index = index
        self.value = value
    }

    /// The file's content: no trailing newline, as SPIKE writes it.
    public var text: String { "spike:\(index):" + value.hexString }

    public var fileName: String { "spike.recovery.\(index).txt" }

    /// Parses what an operator pasted, as SPIKE does: trimmed, split on the first two colons
    /// (the prefix is not checked), 64 hex digits, a decimal index. No error repeats the shard.
    public static func parse(_ input: String) throws(RecoveryShardError) -> RecoveryShard {
        let trimmed = input.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = trimmed.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .format }
        let hex = Array(parts[2].utf8)
        guard hex.count == 64 else { throw .length(hex.count) }
        guard let value = Hex.decode(hex) else { throw .notHex }
        guard let index = Int(parts[1]) else { throw .index(String(parts[1].prefix(20))) }
        return RecoveryShard(index: index, value: value)
    }
}

/// Why a shard's text was refused, in SPIKE's words.
public enum RecoveryShardError: Error, Equatable, CustomStringConvertible {
    case format
    case length(Int)
    case notHex
    case index(String)

    public var description: String {
        switch self {
        case .format: "Invalid shard format. Expected format: `spike:$id:$secret`."
        case .length(let count): "Invalid hex shard length: \(count) (expected 64)."
        case .notHex: "Failed to decode recovery shard: it is not hexadecimal."
        case .index(let text): "Invalid shard index: \"\(text)\" is not a number."
        }
    }
}
