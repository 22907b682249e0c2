import Projections

/// `spike log audit` on a terminal: the findings first, then each section in time order.
enum AuditText {
    static func render(_ report: AuditReport) -> String {
        var lines: [String] = []
        let span = report.first.map { first in " from \(first.short) to \((report.last ?? first).short)" } ?? ""
        lines.append("Audit of log \(report.logID): \(report.events) events\(span), head \(report.head)")
        lines.append("")
        lines.append("Findings")
        if report.findings.isEmpty { lines.append("  nothing went wrong in these events") }
        for finding in report.findings {
            lines.append("  \(finding.severity == .warning ? "!" : "-") \(finding.text)")
        }
        func section(_ title: String, _ rows: [String]) {
            guard !rows.isEmpty else { return }
            lines.append("")
            lines.append(title)
            lines += rows.map { "  " + $0 }
        }
        section("Epochs", report.epochs.map { epoch in
            var row = "epoch \(epoch.epoch): opened by \(epoch.openedBy) at \(epoch.startedAt.short) (\(epoch.keepers.count) Keepers, threshold \(epoch.threshold))"
            if let ended = epoch.endedAt { row += "; closed by \(epoch.endedBy ?? "?") at \(ended.short)" }
            return row
        })
        section("Nexus processes", report.runs.map { run in
            let end = switch run.end {
            case .stopped: "stopped at \(run.endedAt?.short ?? "?")\(run.reason.map { " (\($0))" } ?? "")"
            case .crashed: "crashed after \(run.endedAt?.short ?? "?")"
            case .running: "running (no stop yet)"
            }
            let replica = report.replicas.count > 1 ? "replica \(run.replica ?? "(unnamed)"), " : ""
            return "\(run.startedAt.short)  started (\(replica)instance \(run.instance.prefix(12)))  \(end)"
        })
        section("Sealed periods", report.sealedPeriods.map { period in
            guard let to = period.to else { return "\(period.from.short) - still sealed" }
            let by = period.endedBy == "password" ? "password\(period.admin.map { " (admin \($0))" } ?? "")" : period.endedBy ?? "?"
            return "\(period.from.short) - \(to.short)  \(AuditFindings.duration(period.from, to)), ended by \(by)"
        })
        section("Keepers", report.keepers.flatMap { lane -> [String] in
            let polls = lane.polls.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            var rows = ["keeper-\(lane.keeper)\(lane.url.map { " (\($0))" } ?? ""): polls \(polls.isEmpty ? "none" : polls); \(lane.rehydrations.count) rehydration(s)"]
            for period in lane.periods where period.state != KeeperPollOutcome.hasShard.rawValue {
                rows.append("  \(period.from.short) - \(period.to.short)  \(period.state) (\(period.polls ?? 0) polls)")
            }
            rows += lane.rehydrations.map { "  \($0.at.short)  rehydrated (\($0.reason))" }
            return rows
        })
        section("Root-key restores", report.restores.map { restore in
            let who = restore.admin.map { " (admin \($0))" } ?? (restore.shareIndices.isEmpty ? "" : " (shares \(restore.shareIndices.map(String.init).joined(separator: ",")))")
            return "\(restore.at.short)  \(restore.source)\(who)  " + (restore.succeeded ? "restored" : "refused: \(restore.reason ?? "")")
        })
        section("Admin passwords", report.adminChanges.map { "\($0.at.short)  \($0.admin) \($0.change) by \($0.actor)" })
        section("Rotations", report.rotations.map { rotation in
            "\(rotation.at.short)  epoch \(rotation.fromEpoch) -> \(rotation.toEpoch) by \(rotation.actor)"
                + (rotation.completedAt.map { ", completed \($0.short)" } ?? ", not completed")
        })
        section("Resets", report.resets.map { "\($0.at.short)  epoch \($0.epoch) closed by \($0.actor): \"\($0.reason)\"" })
        section("Recovery shard exports", report.shardExports.map {
            "\($0.at.short)  shares \($0.shareIndices.map(String.init).joined(separator: ", ")) by \($0.actor)"
        })
        section("Access denials", report.denials.map { denial in
            let requests = denial.requests.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            return "\(denial.actor): \(denial.count) from \(denial.first.short) to \(denial.last.short): \(requests)"
        })
        return lines.joined(separator: "\n") + "\n"
    }
}
