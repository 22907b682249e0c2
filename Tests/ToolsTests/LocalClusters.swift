import Foundation
import Testing

/// The suites that run whole dev clusters (nine processes each, scrypt at full cost): one at a
/// time, so that on two cores they do not starve each other, or the in-process suites, into
/// timeouts.
@Suite(.serialized) enum LocalClusters {}

extension LocalClusters {
    /// The variables of a `DIR/env*` file that `spike dev up` wrote (`export NAME='value'` lines).
    static func exports(at path: String) throws -> [String: String] {
        var values: [String: String] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            values[String(pair[0])] = String(pair[1]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        return values
    }
}
