import EventLog
import Foundation
import Projections
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

    /// The events of a cluster's Nexus log (`DIR/nexus`), read with its host audit key; readers
    /// take no lock, so the Nexus may be running.
    static func events(ofCluster dir: String) throws -> [DomainEvent] {
        let log = try EventLog.open(directory: dir + "/nexus", options: { var o = EventLog.Options(); o.readOnly = true; return o }())
        defer { log.close() }
        let key = try LogKeyFile.readPrivateKey(at: dir + "/nexus/audit-key.pem")
        var events: [DomainEvent] = []
        _ = try log.replay(from: 1, through: nil, keyring: LogKeyring([key])) { view in
            if let event = try DomainEvent.decode(kind: view.kind, body: view.body) { events.append(event) }
        }
        return events
    }
}
