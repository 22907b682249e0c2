import Foundation
import Projections

/// Where `spike operator recover` writes the shard files (their text is `RecoveryShard`'s).
extension RecoveryShard {
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
