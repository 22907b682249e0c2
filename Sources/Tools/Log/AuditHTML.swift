import Projections

/// `spike log audit --html FILE`: one self-contained page (inline CSS and SVG, nothing fetched)
/// with the findings on top and a timeline below: one lane for the Nexus and one per Keeper,
/// coloured by state, with epochs, crashes and resets marked; then the report's tables.
enum AuditHTML {
    static let colours: [String: String] = [
        "ready": "#2ca02c", "sealed": "#ff7f0e", "uninitialized": "#9e9e9e", "down": "#eeeeee", "running": "#17becf",
        "has-shard": "#2ca02c", "empty": "#ff7f0e", "unreachable": "#9467bd", "refused": "#8c564b", "error": "#e377c2",
    ]
    static let resetColour = "#d62728"
    static let epochColour = "#1f77b4"

    static func render(_ report: AuditReport) -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>SPIKE audit: log \(escape(report.logID))</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
            h1{font-size:20px} h2{font-size:16px;margin-top:28px}
            li.warning{color:#a01010} li.notice{color:#333}
            table{border-collapse:collapse} td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;font-size:13px}
            .legend span{display:inline-block;margin-right:14px} .legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}
            </style></head><body>
            <h1>What happened to log \(escape(report.logID))</h1>
            <p>\(report.events) events\(report.first.map { " from \(escape($0.short)) to \(escape((report.last ?? $0).short))" } ?? ""), head \(report.head).</p>
            <h2>Findings</h2>
            <ol id="findings">

            """
        if report.findings.isEmpty { html += "<li class=\"notice\">Nothing went wrong in these events.</li>\n" }
        for finding in report.findings {
            html += "<li class=\"\(finding.severity.rawValue)\" data-sequence=\"\(finding.sequence)\">\(escape(finding.text))</li>\n"
        }
        html += "</ol>\n<h2>Timeline</h2>\n" + timeline(report) + legend()
        html += table("Nexus processes", ["started", "replica", "instance", "end", "at"], report.runs.map {
            [$0.startedAt.short, $0.replica ?? "", String($0.instance.prefix(12)), $0.end.rawValue + ($0.reason.map { " (\($0))" } ?? ""),
             $0.endedAt?.short ?? ""]
        })
        html += table("Sealed periods", ["from", "to", "ended by"], report.sealedPeriods.map {
            [$0.from.short, $0.to?.short ?? "still sealed", ($0.endedBy ?? "") + ($0.admin.map { " (\($0))" } ?? "")]
        })
        html += table("Root-key restores", ["at", "source", "result"], report.restores.map {
            [$0.at.short, $0.source + ($0.admin.map { " (\($0))" } ?? ""), $0.succeeded ? "restored" : "refused: \($0.reason ?? "")"]
        })
        html += table("Resets", ["at", "epoch", "by", "reason"], report.resets.map { [$0.at.short, String($0.epoch), $0.actor, $0.reason] })
        html += table("Access denials", ["identity", "count", "requests"], report.denials.map { denial in
            [denial.actor, String(denial.count), denial.requests.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")]
        })
        return html + "</body></html>\n"
    }

    /// The SVG: time runs left to right over the report's span; lane 0 is the Nexus (the system),
    /// then one lane per replica when several ran, then the Keepers.
    static func timeline(_ report: AuditReport) -> String {
        let width = 1100.0, left = 110.0, laneHeight = 26.0, top = 34.0
        let replicas = report.replicas.count > 1 ? report.replicas : []
        let lanes: [(id: String, label: String, periods: [AuditReport.Period])] =
            [("nexus", "Nexus", report.nexus)]
            + replicas.map { ("replica-\($0.replica)", String($0.replica.prefix(14)), $0.periods) }
            + report.keepers.map { ("keeper-\($0.keeper)", "keeper-\($0.keeper)", $0.periods) }
        let height = top + Double(lanes.count) * laneHeight + 30
        let start = report.first?.nanoseconds ?? 0
        let span = Double(max(1_000_000_000, (report.last?.nanoseconds ?? start) - start))
        func x(_ time: Timestamp) -> Double { left + (width - left - 10) * min(1, max(0, Double(time.nanoseconds - start) / span)) }
        func fixed(_ value: Double) -> String { String(Int(value.rounded())) }
        var svg = "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fixed(width))\" height=\"\(fixed(height))\" "
            + "viewBox=\"0 0 \(fixed(width)) \(fixed(height))\" role=\"img\" aria-label=\"timeline\">\n"
        for (index, lane) in lanes.enumerated() {
            let y = top + Double(index) * laneHeight
            svg += "<g class=\"lane\" data-lane=\"\(lane.id)\">"
            svg += "<text x=\"4\" y=\"\(fixed(y + 17))\" font-size=\"13\">\(escape(lane.label))</text>"
            svg += "<rect x=\"\(fixed(left))\" y=\"\(fixed(y + 3))\" width=\"\(fixed(width - left - 10))\" height=\"\(fixed(laneHeight - 6))\" fill=\"#fafafa\" stroke=\"#ddd\"/>"
            for period in lane.periods {
                let from = x(period.from), to = max(x(period.to), from + 2)
                svg += "<rect class=\"period state-\(period.state)\" data-state=\"\(period.state)\" x=\"\(fixed(from))\" y=\"\(fixed(y + 3))\" "
                    + "width=\"\(fixed(to - from))\" height=\"\(fixed(laneHeight - 6))\" fill=\"\(colours[period.state] ?? "#bbbbbb")\">"
                    + "<title>\(escape("\(lane.label) \(period.state) \(period.from.short) - \(period.to.short)\(period.polls.map { " (\($0) polls)" } ?? "")"))</title></rect>"
            }
            svg += "</g>\n"
        }
        let bottom = top + Double(lanes.count) * laneHeight
        for epoch in report.epochs {
            let position = fixed(x(epoch.startedAt))
            svg += "<g class=\"marker epoch\" data-epoch=\"\(epoch.epoch)\"><line x1=\"\(position)\" y1=\"\(fixed(top - 14))\" x2=\"\(position)\" y2=\"\(fixed(bottom))\" "
                + "stroke=\"\(epochColour)\" stroke-width=\"2\" stroke-dasharray=\"5,3\"/>"
                + "<text x=\"\(position)\" y=\"\(fixed(top - 18))\" font-size=\"11\" fill=\"\(epochColour)\">epoch \(epoch.epoch)</text></g>\n"
        }
        for run in report.runs where run.end == .crashed {
            let position = fixed(x(run.endedAt ?? run.startedAt))
            // On the crashed replica's lane when there are several.
            let lane = replicas.firstIndex { $0.replica == (run.replica ?? "") }.map { $0 + 1 } ?? 0
            svg += "<g class=\"marker crash\"><text x=\"\(position)\" y=\"\(fixed(top + Double(lane) * laneHeight + 18))\" font-size=\"15\" text-anchor=\"middle\">✕</text>"
                + "<title>\(escape("crash after \((run.endedAt ?? run.startedAt).short)"))</title></g>\n"
        }
        for reset in report.resets {
            let position = fixed(x(reset.at))
            svg += "<g class=\"marker reset\" data-epoch=\"\(reset.epoch)\"><line x1=\"\(position)\" y1=\"\(fixed(top - 14))\" x2=\"\(position)\" y2=\"\(fixed(bottom + 4))\" "
                + "stroke=\"\(resetColour)\" stroke-width=\"4\"/>"
                + "<text x=\"\(position)\" y=\"\(fixed(bottom + 18))\" font-size=\"12\" fill=\"\(resetColour)\" text-anchor=\"middle\">reset</text>"
                + "<title>\(escape("reset at \(reset.at.short): \(reset.reason)"))</title></g>\n"
        }
        if let first = report.first {
            svg += "<text x=\"\(fixed(left))\" y=\"\(fixed(height - 2))\" font-size=\"11\">\(escape(first.short))</text>"
            svg += "<text x=\"\(fixed(width - 10))\" y=\"\(fixed(height - 2))\" font-size=\"11\" text-anchor=\"end\">\(escape((report.last ?? first).short))</text>\n"
        }
        return svg + "</svg>\n"
    }

    static func legend() -> String {
        let entries = ["ready", "sealed", "uninitialized", "down", "running", "has-shard", "empty", "unreachable", "refused", "error"]
        return "<p class=\"legend\">" + entries.map { "<span><i style=\"background:\(colours[$0]!)\"></i>\($0)</span>" }.joined()
            + "<span><i style=\"background:\(epochColour)\"></i>epoch</span><span><i style=\"background:\(resetColour)\"></i>reset</span></p>\n"
    }

    static func table(_ title: String, _ columns: [String], _ rows: [[String]]) -> String {
        guard !rows.isEmpty else { return "" }
        var html = "<h2>\(escape(title))</h2>\n<table><tr>" + columns.map { "<th>\(escape($0))</th>" }.joined() + "</tr>\n"
        for row in rows { html += "<tr>" + row.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n" }
        return html + "</table>\n"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
