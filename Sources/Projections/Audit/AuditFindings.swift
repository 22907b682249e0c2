/// The findings of an audit report: what went wrong (and what an operator did about it) in
/// plain sentences, in the order it happened. Each rule reads the report's sections only.
public enum AuditFindings {
    typealias Finding = AuditReport.Finding

    /// Stretches of a Keeper's polls worth a sentence: this long, or this many polls.
    static let noteworthySeconds = 60.0
    static let noteworthyPolls = 30

    static func write(_ report: AuditReport) -> [Finding] {
        var findings: [Finding] = []
        func add(_ at: Timestamp, _ sequence: UInt64, _ severity: Finding.Severity, _ text: String) {
            findings.append(Finding(at: at, sequence: sequence, severity: severity, text: text))
        }

        // Crashes, with what the Keepers were going through when it happened.
        var explained = Set<String>()
        let severalReplicas = report.replicas.count > 1
        for (index, run) in report.runs.enumerated() where run.end == .crashed {
            let end = run.endedAt ?? run.startedAt
            // The start that found it: the next one of the same replica (a nameless run's, any named one).
            let next = report.runs[(index + 1)...].first { $0.replica == run.replica || run.replica == nil }
            let who = severalReplicas ? "Nexus replica \(run.replica ?? "(unnamed)")" : "The Nexus"
            var text = "\(who) crashed after \(end.short) (the process started at \(run.startedAt.short) never stopped cleanly"
            if let next { text += "; the next start, at \(next.startedAt.short), found no stop before it" }
            text += ")."
            // What each Keeper was last seen doing before the crash, if it was not holding its
            // share (and was not rehydrated since).
            for lane in report.keepers {
                guard let period = lane.periods.last(where: { $0.from <= end }), period.state != KeeperPollOutcome.hasShard.rawValue,
                      end.nanoseconds - period.to.nanoseconds <= AuditTimeline.pollGap,
                      !lane.rehydrations.contains(where: { $0.at > period.to && $0.at <= end }) else { continue }
                text += period.from.seconds(until: period.to) < 1
                    ? " keeper-\(lane.keeper) was \(words(period.state)) at the last poll before the crash."
                    : " keeper-\(lane.keeper) was \(words(period.state)) for \(duration(period.from, period.to)) before the crash."
                explained.insert("\(lane.keeper)@\(period.from.nanoseconds)")
            }
            add(end, run.sequence, .warning, text)
        }

        // Keepers that were not holding their share for a while, and rehydrations.
        for lane in report.keepers {
            for period in lane.periods where period.state != KeeperPollOutcome.hasShard.rawValue
                && !explained.contains("\(lane.keeper)@\(period.from.nanoseconds)")
                && (period.from.seconds(until: period.to) >= noteworthySeconds || (period.polls ?? 0) >= noteworthyPolls) {
                add(period.from, 0, .warning,
                    "keeper-\(lane.keeper) was \(words(period.state)) for \(duration(period.from, period.to)), from \(period.from.short) to \(period.to.short) (\(period.polls ?? 0) polls).")
            }
            for rehydration in lane.rehydrations {
                switch rehydration.reason {
                case RehydrationReason.mismatch.rawValue:
                    add(rehydration.at, rehydration.sequence, .warning,
                        "keeper-\(lane.keeper) held a share that was not the one distributed to it at \(rehydration.at.short); it was sent its own again.")
                default:
                    add(rehydration.at, rehydration.sequence, .notice,
                        "keeper-\(lane.keeper) had restarted empty; it was rehydrated at \(rehydration.at.short).")
                }
            }
        }

        // Sealed periods and how they ended.
        for period in report.sealedPeriods {
            guard let to = period.to else {
                if let last = report.last, period.from.seconds(until: last) >= noteworthySeconds {
                    add(period.from, 0, .warning, "The Nexus has been sealed since \(period.from.short) (\(duration(period.from, last)) to the last event): it has no root key.")
                }
                continue
            }
            let sealedFor = duration(period.from, to)
            switch period.endedBy {
            case "password":
                add(to, 0, .warning, "The root key was recovered from \(period.admin.map { "admin \($0)'s" } ?? "an admin") password at \(to.short), after \(sealedFor) sealed (since \(period.from.short)).")
            case "shards":
                add(to, 0, .warning, "The root key was restored from recovery shards at \(to.short), after \(sealedFor) sealed (since \(period.from.short)).")
            case "reset":
                add(to, 0, .warning, "The Nexus was sealed for \(sealedFor) (since \(period.from.short)) until the reset at \(to.short).")
            default:
                if period.from.seconds(until: to) >= noteworthySeconds {
                    add(to, 0, .notice, "The Nexus was sealed for \(sealedFor) (since \(period.from.short)) until enough Keepers answered at \(to.short).")
                }
            }
        }

        // Failed restores, one sentence per run of failures of one source, with what followed.
        var index = 0
        let restores = report.restores
        while index < restores.count {
            guard !restores[index].succeeded else { index += 1; continue }
            let source = restores[index].source
            var end = index
            while end + 1 < restores.count, !restores[end + 1].succeeded, restores[end + 1].source == source { end += 1 }
            let count = end - index + 1
            let first = restores[index], last = restores[end]
            let what = switch source {
            case "password": count == 1 ? "1 wrong password" : "\(count) wrong passwords"
            case "shards": count == 1 ? "1 set of recovery shards was refused" : "\(count) sets of recovery shards were refused"
            default: count == 1 ? "the Keepers' shares did not give the root key" : "the Keepers' shares did not give the root key \(count) times"
            }
            let when = count == 1 ? "at \(first.at.short)" : "between \(first.at.short) and \(last.at.short)"
            let after = followUp(after: last.at, in: report)
            let cause = source == "keepers" ? " (a Keeper holds a wrong share: \(first.reason ?? "key check value differs"))" : ""
            add(first.at, first.sequence, .warning, capitalized("\(what) \(when)\(cause)\(after)."))
            index = end + 1
        }

        for reset in report.resets {
            add(reset.at, reset.sequence, .warning,
                "The system was reset at \(reset.at.short) by \(reset.actor): \"\(reset.reason)\". Epoch \(reset.epoch) was closed; its secrets are gone for good.")
        }
        for incident in report.headIncidents {
            switch incident.kind {
            case "accepted":
                add(incident.at, incident.sequence, .warning,
                    "\(incident.actor) accepted the log's head \(incident.logSequence) at \(incident.at.short) over the head \(incident.witnessedSequence) "
                        + "a Keeper had witnessed: what was written after \(incident.logSequence) in the witnessed log is not in this one.")
            default:
                let how = incident.kind == "behind" ? "ends at \(incident.logSequence), before" : "holds another record at"
                add(incident.at, incident.sequence, .warning,
                    "The log was rolled back: at \(incident.at.short) the Nexus found that it \(how) the head \(incident.witnessedSequence) "
                        + "Keeper \(incident.keeper ?? 0) had witnessed, and served nothing.")
            }
        }
        for rotation in report.rotations {
            let completion = rotation.completedAt.map { "; the Keepers confirmed the new shares at \($0.short)" }
                ?? "; the Keepers never confirmed the new shares (the old key still opens it)"
            add(rotation.at, rotation.sequence, .notice,
                "The root key was rotated from epoch \(rotation.fromEpoch) to \(rotation.toEpoch) at \(rotation.at.short) by \(rotation.actor)\(completion).")
        }
        for change in report.adminChanges {
            add(change.at, change.sequence, .notice, "Admin \(change.admin)'s password was \(change.change) at \(change.at.short) by \(change.actor).")
        }
        for export in report.shardExports {
            add(export.at, export.sequence, .notice,
                "Recovery shards \(export.shareIndices.map(String.init).joined(separator: ", ")) were exported at \(export.at.short) by \(export.actor).")
        }
        for denial in report.denials {
            let top = denial.requests.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(3)
                .map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
            let times = denial.count == 1 ? "once, at \(denial.first.short)" : "\(denial.count) times between \(denial.first.short) and \(denial.last.short)"
            add(denial.first, 0, .warning, "\(denial.actor) was refused \(times) (\(top)\(denial.requests.count > 3 ? ", …" : "")).")
        }
        return findings.sorted { ($0.at, $0.sequence) < ($1.at, $1.sequence) }
    }

    /// What ended a run of failed restores: the next success or reset after it.
    private static func followUp(after time: Timestamp, in report: AuditReport) -> String {
        let success = report.restores.first { $0.succeeded && $0.at >= time }
        let reset = report.resets.first { $0.at >= time }
        switch (success, reset) {
        case (let success?, let reset?) where reset.at < success.at: return " before the reset at \(reset.at.short)"
        case (let success?, _): return " before the root key was restored from \(success.source) at \(success.at.short)"
        case (nil, let reset?): return " before the reset at \(reset.at.short)"
        default: return ", with no restore after"
        }
    }

    static func words(_ outcome: String) -> String {
        switch outcome {
        case KeeperPollOutcome.empty.rawValue: "empty (answering 404)"
        case KeeperPollOutcome.unreachable.rawValue: "unreachable"
        case KeeperPollOutcome.refused.rawValue: "refusing the Nexus"
        case KeeperPollOutcome.error.rawValue: "answering errors"
        default: outcome
        }
    }

    /// `12 s`, `41 min`, `3 h 5 min`, `2 d 4 h`.
    public static func duration(_ from: Timestamp, _ to: Timestamp) -> String {
        let seconds = Int(max(0, from.seconds(until: to)).rounded())
        switch seconds {
        case ..<60: return "\(seconds) s"
        case ..<3600: return "\(seconds / 60) min"
        case ..<86_400: return seconds % 3600 / 60 == 0 ? "\(seconds / 3600) h" : "\(seconds / 3600) h \(seconds % 3600 / 60) min"
        default: return "\(seconds / 86_400) d \(seconds % 86_400 / 3600) h"
        }
    }

    private static func capitalized(_ text: String) -> String { text.prefix(1).uppercased() + text.dropFirst() }
}
