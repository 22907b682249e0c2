import EventLog
import Foundation
import NIOHTTP1
import NexusCore
import Projections
import SPIFFE
import SpikeAPI

/// The Nexus' HTTP routes: health, readiness, metrics and initialization; every other route
/// answers 503 `state_not_ready` until the root key is in memory (reference §2.1), then goes to
/// the data API.
public struct NexusService: Sendable {
    public let node: NexusNode
    public let roles: SpikeRoles
    /// The secrets, policies and cipher routes, served once ready.
    public let data: DataAPI

    public init(node: NexusNode, roles: SpikeRoles) {
        self.node = node
        self.roles = roles
        data = DataAPI(store: node.store, roles: roles, maxCipherSize: node.configuration.maxCipherSize)
    }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        switch (request.method, request.path) {
        case (.GET, "/healthz"):
            return .json(["status": "ok"])
        case (.GET, "/readyz"):
            let status = node.status
            return .json(status, status: status.ready ? .ok : .serviceUnavailable)
        case (.GET, "/metrics"):
            return .text(metricsText(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        case (.POST, APIRoute.initialize.path):
            return await initialization(request)
        case (.POST, APIRoute.operatorRecover.path), (.POST, APIRoute.operatorRestore.path):
            // Served in any state by SPIKE; their implementation comes with the recovery work.
            return .error(.badRequest, status: .badRequest)
        case (.POST, _) where !node.status.ready:
            return .error(.notReady, status: .serviceUnavailable)
        default:
            return await data.handle(request)
        }
    }

    private func initialization(_ request: HTTPRequest) async -> HTTPResponse {
        guard roles.has(request.peer, .superuser) else { return .error(.unauthorized, status: .unauthorized) }
        switch APIRoute(path: request.path, action: request.query["action"]) {
        case .initializationCheck: return .json(["state": node.status.state.rawValue])
        case .initialize: break
        default: return .error(.badRequest, status: .badRequest)
        }
        guard let body = request.decodeJSON(InitializationRequest.self) else { return .error(.badRequest, status: .badRequest) }
        guard body.password.utf8.count >= PasswordWrap.minimumPasswordLength else {
            return .error(.passwordTooWeak, status: .badRequest)
        }
        do {
            try await node.initialize(password: body.password, actor: request.peer.description, trail: Self.trailID())
            return .json([String: String]())
        } catch .alreadyInitialized {
            return .error(.alreadyInitialized, status: .conflict)
        } catch {
            FileHandle.standardError.write(Data("spike nexus: initialization failed: \(error)\n".utf8))
            return .error(.internalError, status: .internalServerError)
        }
    }

    /// Prometheus text exposition: polls by Keeper and outcome, rehydrations, readiness, shares
    /// in hand, and the log's size.
    func metricsText() -> String {
        let status = node.status
        let metrics = node.metrics
        var lines: [String] = []
        lines.append("# HELP spike_keeper_polls_total Keeper polls by outcome since the Nexus started.")
        lines.append("# TYPE spike_keeper_polls_total counter")
        for keeper in 1...max(1, node.configuration.keepers.count) {
            for outcome in KeeperPollOutcome.allCases {
                lines.append("spike_keeper_polls_total{keeper=\"\(keeper)\",outcome=\"\(outcome.rawValue)\"} \(metrics.polls[PollKey(keeper: keeper, outcome: outcome)] ?? 0)")
            }
        }
        lines.append("# HELP spike_keeper_rehydrations_total Shares sent again to empty or mismatched Keepers.")
        lines.append("# TYPE spike_keeper_rehydrations_total counter")
        for keeper in 1...max(1, node.configuration.keepers.count) {
            lines.append("spike_keeper_rehydrations_total{keeper=\"\(keeper)\"} \(metrics.rehydrations[keeper] ?? 0)")
        }
        lines.append("# HELP spike_nexus_ready 1 when the root key is in memory.")
        lines.append("# TYPE spike_nexus_ready gauge")
        lines.append("spike_nexus_ready \(status.ready ? 1 : 0)")
        lines.append("# HELP spike_nexus_shares_in_hand Shares held while sealed (the threshold once ready).")
        lines.append("# TYPE spike_nexus_shares_in_hand gauge")
        lines.append("spike_nexus_shares_in_hand \(status.sharesInHand)")
        let counts = node.store.counts
        lines.append("# HELP spike_secrets Secret paths held.")
        lines.append("# TYPE spike_secrets gauge")
        lines.append("spike_secrets \(counts.secrets)")
        lines.append("# HELP spike_policies Policies held.")
        lines.append("# TYPE spike_policies gauge")
        lines.append("spike_policies \(counts.policies)")
        lines.append("# HELP spike_access_denied_total Requests refused for want of a permission (AccessDenied events in the log).")
        lines.append("# TYPE spike_access_denied_total counter")
        lines.append("spike_access_denied_total \(counts.denials)")
        lines.append("# HELP spike_log_head_sequence The sequence of the last record in the log.")
        lines.append("# TYPE spike_log_head_sequence gauge")
        lines.append("spike_log_head_sequence \((try? node.log.head()?.sequence) ?? 0)")
        lines.append("# HELP spike_log_events_written_total Events this process appended.")
        lines.append("# TYPE spike_log_events_written_total counter")
        lines.append("spike_log_events_written_total \(node.log.statistics.events)")
        lines.append("# HELP spike_log_file_bytes Size of the log's LMDB data file.")
        lines.append("# TYPE spike_log_file_bytes gauge")
        lines.append("spike_log_file_bytes \(node.log.storedBytes)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// SPIKE's trail ids: 8 alphanumerics (from one random draw: this runs on every request).
    static func trailID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var bits = UInt64.random(in: 0...UInt64.max)
        var id = [UInt8](repeating: 0, count: 8)
        for index in id.indices {
            id[index] = alphabet[Int(bits % 36)]
            bits /= 36
        }
        return String(decoding: id, as: UTF8.self)
    }
}
