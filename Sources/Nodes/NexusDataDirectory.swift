import Foundation

/// Where a Nexus keeps its log: `SPIKE_NEXUS_DATA_DIR`, else `~/.spike/data` (DESIGN §3).
public enum NexusDataDirectory {
    public static let environmentVariable = "SPIKE_NEXUS_DATA_DIR"

    public static func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let configured = environment[environmentVariable], !configured.isEmpty {
            return configured
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".spike/data")
    }
}
