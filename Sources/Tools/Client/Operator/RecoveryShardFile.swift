import EventLog
import Foundation

/// SPIKE's recovery shard text, `spike:<index>:<64 lowercase hex>` (reference §6), and the
/// directory `spike operator recover` writes the files to.
struct RecoveryShardFile: Equatable {
    var index: Int
    var value: [UInt8]

    /// The file's content: no trailing newline, as SPIKE writes it.
    var text: String { "spike:\(index):" + value.hexString }

    var fileName: String { "spike.recovery.\(index).txt" }

    /// Parses what an operator pasted, as SPIKE does: trimmed, split on the first two colons
    /// (the prefix is not checked), 64 hex digits, a decimal index. Errors say what is wrong
    /// in SPIKE's words; none repeats the shard.
    static func parse(_ input: String) throws(CommandFailure) -> RecoveryShardFile {
        let trimmed = input.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = trimmed.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw CommandFailure("Invalid shard format. Expected format: `spike:$id:$secret`.") }
        let hex = Array(parts[2].utf8)
        guard hex.count == 64 else { throw CommandFailure("Invalid hex shard length: \(hex.count) (expected 64).") }
        guard let value = Hex.decode(hex) else { throw CommandFailure("Failed to decode recovery shard: it is not hexadecimal.") }
        guard let index = Int(parts[1]) else { throw CommandFailure("Invalid shard index: \"\(parts[1].prefix(20))\" is not a number.") }
        return RecoveryShardFile(index: index, value: value)
    }

    /// `SPIKE_PILOT_RECOVERY_DIR`/recover, else `~/.spike/recover`, else `/tmp/.spike-$USER/recover`
    /// (reference §6, ADR-0026), created with mode 0700.
    static func directory(environment: [String: String]) throws(CommandFailure) -> String {
        let base: String
        if let configured = environment["SPIKE_PILOT_RECOVERY_DIR"], !configured.isEmpty {
            base = configured
        } else if let home = environment["HOME"], !home.isEmpty {
            base = (home as NSString).appendingPathComponent(".spike")
        } else {
            base = "/tmp/.spike-\(environment["USER"] ?? "\(getuid())")"
        }
        let directory = ((base as NSString).appendingPathComponent("recover") as NSString).standardizingPath
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw CommandFailure("cannot create the recovery directory \(directory): \(error.localizedDescription)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure("the recovery directory \(directory) is not a directory")
        }
        return directory
    }
}
