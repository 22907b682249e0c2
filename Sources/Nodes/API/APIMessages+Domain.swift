import Foundation
import NexusCore
import Projections
import SpikeAPI

// The wire types of `SpikeAPI` made from the domain's state: the server's side of the contract.

extension SecretMetadataResponse {
    init(_ entry: SecretEntry) {
        self.init(
            versions: Dictionary(uniqueKeysWithValues: entry.versions.values.map {
                (String($0.version), Version(createdTime: APITime.format($0.createdAt), version: $0.version,
                                             deletedTime: $0.deletedAt.map(APITime.format), destroyed: $0.destroyed))
            }),
            metadata: Metadata(currentVersion: entry.currentVersion, oldestVersion: entry.oldestVersion,
                               createdTime: APITime.format(entry.createdAt), updatedTime: APITime.format(entry.updatedAt),
                               maxVersions: entry.maxVersions))
    }
}

extension PolicyResponse {
    init(_ policy: Policy) {
        self.init(name: policy.name, spiffiedPattern: policy.spiffeidPattern, spiffeidPattern: policy.spiffeidPattern,
                  pathPattern: policy.pathPattern, permissions: policy.permissions.map(\.rawValue),
                  createdAt: APITime.format(policy.createdAt), updatedAt: APITime.format(policy.updatedAt))
    }
}

extension NexusStatus {
    init(_ machine: NexusLifecycle, keeperURLs: [String]) {
        let keepers = keeperURLs.enumerated().map { offset, url in
            let run = machine.ledger.runs[offset + 1]
            return Keeper(index: offset + 1, url: url, lastOutcome: run?.outcome.rawValue,
                          lastPolledAt: run.map { APITime.format($0.lastAt) }, detail: run?.detail)
        }
        let reason: String? = switch machine.phase {
        case .uninitialized:
            "not initialized: run `spike init` with the superuser identity"
        case .sealed:
            "sealed: \(machine.sharesInHand) of \(machine.threshold) shares in hand" + {
                let missing = keepers.filter { $0.lastOutcome != KeeperPollOutcome.hasShard.rawValue }
                    .map { "Keeper \($0.index) \($0.lastOutcome ?? "not polled yet")" }
                return missing.isEmpty ? "" : " (\(missing.joined(separator: ", ")))"
            }()
        case .ready:
            machine.refusal.map { "refused: \($0)" }
                ?? machine.confirmedShares.map { "initializing: \($0.count) of \(machine.threshold) Keepers hold their shares" }
        }
        self.init(state: State(machine.phase), ready: machine.isServing, epoch: machine.projection.epoch,
                  sharesInHand: machine.sharesInHand, threshold: machine.threshold, keepers: keepers, reason: reason)
    }
}

extension NexusStatus.State {
    init(_ phase: NexusLifecycle.Phase) {
        self = switch phase {
        case .uninitialized: .uninitialized
        case .sealed: .sealed
        case .ready: .ready
        }
    }
}

/// Times as Go's `encoding/json` writes them (RFC 3339 with trailing zeros of the fraction
/// dropped), in UTC.
enum APITime {
    static func format(_ milliseconds: Int64) -> String {
        let seconds = Int64((Double(milliseconds) / 1000).rounded(.down))
        let fraction = milliseconds - seconds * 1000
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                          parts.tm_hour, parts.tm_min, parts.tm_sec)
        if fraction != 0 {
            var digits = String(String(fraction + 1000).dropFirst())
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text + "Z"
    }
}
