import ArgumentParser
import EventLog
import Foundation
import NexusCore
import NIOHTTP1
import Projections
import SpikeAPI
import SpikeClient

struct LogReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Rebuild the Nexus' state offline from a log (a copy or a backup) and print it; compare it with a running Nexus.",
        discussion: """
        Folds the log exactly as the Nexus does. With the root key (an admin's --password, or
        --shards) every data event's authenticator is checked, as a Nexus does before serving;
        without it the summary is what the audit key alone shows. --compare asks a running Nexus
        (as a superuser identity) for its secrets and policies and lists every difference; the
        exit code is 0 only when there is none: how to check that a restored backup is complete.
        Examples:
          spike log replay --data-dir /backups/spike-2026-12-01
          spike log replay --data-dir /backups/spike-2026-12-01 --password < password.txt
          spike log replay --data-dir /backups/spike-2026-12-01 --compare https://nexus:8553
        """
    )

    @OptionGroup var location: LogLocation
    @OptionGroup var keyOptions: LogKeyOptions
    @OptionGroup var rootKeyOptions: RootKeyOptions
    @Flag(name: .long, help: "Write the summary as JSON.") var json = false
    @Option(name: .long, help: "A running Nexus' API URL to compare with (needs a superuser identity).") var compare: String?

    func run() async throws {
        let log = try location.open()
        defer { log.close() }
        let keyring = try keyOptions.keyring(for: location)
        let head = try log.head()?.sequence ?? 0
        let projections = try log.reading { try NexusProjections.replay(log, keyring: keyring) }
        var authentication = "not checked: \(projections.unverified.count) data events folded unauthenticated (give --password or --shards)"
        if let (rootKey, source) = try rootKeyOptions.rootKey(for: projections.lifecycle) {
            try log.reading { try Self.authenticate(projections, with: rootKey) }
            authentication = "all \(projections.unverified.count) data events authenticated with the root key from \(source)"
        }
        let summary = StateSummary(projections, head: head, authentication: authentication)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print(Self.render(summary, directory: log.location))
        }
        guard let compare else { return }
        let differences = try await Self.differences(summary, nexus: compare)
        if differences.isEmpty {
            print("\nthe Nexus at \(compare) serves exactly these \(summary.secrets.count) secrets and \(summary.policies.count) policies")
            return
        }
        print("\n\(differences.count) difference(s) with the Nexus at \(compare):")
        for difference in differences { print("  \(difference)") }
        throw ExitCode.failure
    }

    /// The Nexus' check before it serves: every data event's authenticator under the root key
    /// (and, after a rotation, the earlier epochs' keys it carries).
    static func authenticate(_ projections: NexusProjections, with rootKey: RootKey) throws {
        let previous = try projections.lifecycle.rotation.map { rotation throws(KeyError) in
            try PreviousKeys.open(rotation.previousKeys, rootKey: rootKey, epoch: rotation.epoch)
        } ?? PreviousKeys()
        try projections.unverified.authenticate(with: rootKey, epoch: projections.lifecycle.epoch, previous: previous)
    }

    static func render(_ summary: StateSummary, directory: String) -> String {
        var lines = ["log in \(directory), head \(summary.head): epoch \(summary.epoch)\(summary.initialized ? "" : " (not initialized)")",
                     "authentication: \(summary.authentication)",
                     "secrets: \(summary.secrets.count)"]
        for secret in summary.secrets {
            lines.append("  \(secret.path): current \(secret.currentVersion), versions \(StateSummary.describe(secret.versions))")
        }
        lines.append("policies: \(summary.policies.count)")
        for policy in summary.policies {
            lines.append("  \(policy.name): \(policy.spiffeidPattern) on \(policy.pathPattern): \(policy.permissions.joined(separator: ","))")
        }
        lines.append("keepers: \(summary.keepers.count)")
        for keeper in summary.keepers {
            lines.append("  keeper-\(keeper.keeper) \(keeper.url): last \(keeper.lastOutcome ?? "not polled")"
                + (keeper.lastPolledAt.map { " at \($0.short)" } ?? "") + ", \(keeper.rehydrations) rehydration(s)")
        }
        return lines.joined(separator: "\n")
    }

    /// The running Nexus' secrets (with their metadata) and policies against the summary.
    static func differences(_ summary: StateSummary, nexus url: String) async throws -> [String] {
        let api = try await NexusAPI.connect(as: .superuser, url: url)
        defer { api.close() }
        let paths = try await api.call(.secretList, EmptyRequest(), as: SecretListResponse.self).keys
        var secrets: [String: StateSummary.Secret?] = [:]
        for path in paths {
            let response = try await api.post(.secretMetadata, SecretReadRequest(path: path, version: 0))
            if response.status.code == 404 {
                secrets[path] = .some(nil)
                continue
            }
            guard response.status == .ok, let metadata = try? JSONDecoder().decode(SecretMetadataResponse.self, from: Data(response.body)) else {
                throw APIFailure.failure(response)
            }
            secrets[path] = StateSummary.Secret(path: path, currentVersion: metadata.metadata.currentVersion, versions: metadata.versions.values.map {
                StateSummary.Version(version: $0.version, deleted: $0.deletedTime != nil, destroyed: $0.destroyed ?? false)
            })
        }
        let policies = try await api.call(.policyList, PolicyListRequest(spiffeidPattern: nil, pathPattern: nil), as: PolicyListResponse.self).policies.map {
            StateSummary.PolicySummary(name: $0.name, spiffeidPattern: $0.spiffeidPattern ?? $0.spiffiedPattern, pathPattern: $0.pathPattern, permissions: $0.permissions)
        }
        return summary.differences(secrets: secrets, policies: policies)
    }
}
