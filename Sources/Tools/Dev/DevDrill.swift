import ArgumentParser
import ChildProcesses
import EventLog
import Foundation
import Projections

/// `spike dev drill`: rehearses the ways back on a dev cluster, with real processes and
/// SIGKILL, and says what it saw at each step. Ends with a reset: the cluster's secrets are gone
/// afterwards (the history is not).
struct DevDrill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Rehearse recovery on a dev cluster: total loss, the password, recovery shards, a reset.",
        discussion: """
        Against a cluster made by `spike dev up --dir DIR`: puts a marker secret, exports the
        recovery shards, SIGKILLs every process, starts new ones (the Keepers empty), offers three
        wrong passwords and the right one, reads the marker back, SIGKILLs the Nexus alone and
        checks that it unseals from the re-seeded Keepers; loses everything again and restores
        from the shard files one at a time; rotates the root key while writes go on, loses
        everything once more and sees the old shard files refused and the password recover the
        rotated key; then resets the system (its secrets are gone for good), initializes a new
        epoch with the same password, and reads the log's history of all of it. Asks for a
        confirmation on a terminal (--yes for scripts).
          spike dev drill --dir ~/.spike/dev --admin-password-file ~/.spike/dev-password
        """)

    @Option(name: .long, help: "The cluster's directory (made by `spike dev up`).")
    var dir: String
    @Option(name: .long, help: "The file holding the cluster's admin password.")
    var adminPasswordFile: String
    @Flag(name: .long, help: "Do not ask for a confirmation (scripts).")
    var yes = false

    func run() async throws {
        let cluster = DevCluster(directory: dir)
        let drill = Drill(cluster: cluster, password: try InitCommand.readPassword(file: adminPasswordFile),
                          passwordFile: adminPasswordFile)
        guard FileManager.default.fileExists(atPath: cluster.path("env")) else {
            throw CommandFailure("\(cluster.directory) is not a dev cluster: run `spike dev up --dir \(dir)` first")
        }
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else { throw CommandFailure("confirm on a terminal, or pass --yes: the drill ends with a reset") }
            FileHandle.standardError.write(Data("The drill ends with `spike reset`: the secrets of \(cluster.directory) are gone afterwards. Type \"drill\" to go on: ".utf8))
            guard readLine(strippingNewline: true) == "drill" else { throw CommandFailure("not confirmed: nothing was done") }
        }
        try await drill.run()
    }
}

/// The drill's steps; each prints what it did and what it saw, and throws what it did not see.
struct Drill {
    let cluster: DevCluster
    let password: String
    let passwordFile: String

    var marker: String { "drill/marker" }

    func run() async throws {
        let value = "drill-\(UInt32.random(in: 0...UInt32.max))"
        try await step("the cluster is ready") {
            try await spike(["dev", "up", "--dir", cluster.directory, "--admin-password-file", passwordFile], expect: "ready")
        }
        try await step("put the marker secret \(marker)") {
            try await spike(["secret", "put", marker, "value=\(value)"], as: "env", expect: "OK")
        }
        let shards = cluster.path("drill-shards")
        try await step("export the recovery shards (recover role)") {
            try await spike(["operator", "recover"], as: "env-recover", adding: ["SPIKE_PILOT_RECOVERY_DIR": shards], expect: "saved")
            return "\(try shardFiles(shards).count) files in \(shards)/recover"
        }
        try await step("SIGKILL every process (the Keepers' shares are gone)") { try await killEverything() }
        try await step("start new processes: the Nexus stays sealed, every Keeper is empty") {
            try await spike(["dev", "up", "--dir", cluster.directory, "--timeout", "5"], fails: "every Keeper is empty")
        }
        for attempt in 1...3 {
            try await step("wrong password \(attempt) is refused") {
                try await spike(["recover"], as: "env-recover", input: "not the admin password \(attempt)\n", fails: "does not unwrap")
            }
        }
        try await step("the right password restores the root key") {
            try await spike(["recover"], as: "env-recover", input: password + "\n", expect: "recovered")
        }
        try await step("the marker reads back") { try await spike(["secret", "get", marker, "value"], as: "env", expect: value) }
        try await step("SIGKILL the Nexus alone; started again, it unseals from the re-seeded Keepers") {
            try await Task.sleep(for: .seconds(6))
            try kill("nexus")
            try await spike(["dev", "start", "--dir", cluster.directory, "nexus"])
            try await waitUntilReady(within: .seconds(30))
            return try await spike(["secret", "get", marker, "value"], as: "env", expect: value)
        }
        try await step("SIGKILL every process again") { try await killEverything() }
        try await step("start new processes: sealed again") {
            try await spike(["dev", "up", "--dir", cluster.directory, "--timeout", "5"], fails: "every Keeper is empty")
        }
        try await step("restore from the shard files, one `spike operator restore` each") {
            var said: [String] = []
            for file in try shardFiles(shards) {
                let output = try await spike(["operator", "restore"], as: "env-restore", input: try String(contentsOfFile: file, encoding: .utf8))
                said.append(output.contains("restored and ready") ? "restored" : "collected one")
                if output.contains("restored and ready") { break }
            }
            guard said.last == "restored" else { throw CommandFailure("the shards did not restore the root key: \(said)") }
            return said.joined(separator: ", ")
        }
        try await step("the marker reads back") { try await spike(["secret", "get", marker, "value"], as: "env", expect: value) }
        try await step("rotate the root key while writes go on") {
            let said = try await withThrowingTaskGroup(of: String.self) { group in
                for writer in 0..<8 {
                    group.addTask { try await spike(["secret", "put", "drill/load/\(writer)", "value=\(writer)"], as: "env", expect: "OK") }
                }
                group.addTask { try await spike(["operator", "rotate"], as: "env", expect: "rotated") }
                return try await group.reduce(into: [String]()) { $0.append($1) }.first { $0.contains("rotated") } ?? ""
            }
            for writer in 0..<8 {
                try await spike(["secret", "get", "drill/load/\(writer)", "value"], as: "env", expect: "\(writer)")
            }
            try await spike(["secret", "get", marker, "value"], as: "env", expect: value)
            return said + "; 8 writes during it read back"
        }
        try await step("the old shard files no longer restore anything; the password still recovers") {
            try await Task.sleep(for: .seconds(3))
            _ = try await killEverything()
            try await spike(["dev", "up", "--dir", cluster.directory, "--timeout", "5"], fails: "every Keeper is empty")
            let files = try shardFiles(shards)
            try await spike(["operator", "restore"], as: "env-restore", input: try String(contentsOfFile: files[0], encoding: .utf8),
                            expect: "Shards collected:  1")
            try await spike(["operator", "restore"], as: "env-restore", input: try String(contentsOfFile: files[1], encoding: .utf8),
                            fails: "do not combine to this system's root key")
            try await spike(["recover"], as: "env-recover", input: password + "\n", expect: "recovered")
            try await spike(["secret", "get", marker, "value"], as: "env", expect: value)
            return "the old shards refused, the password restored the rotated key"
        }
        try await step("stop the cluster and reset the system (the last resort)") {
            try await spike(["dev", "down", "--dir", cluster.directory])
            return try await spike(["reset", "--data-dir", cluster.path("nexus"), "--yes", "--reason", "spike dev drill"], expect: "is closed")
        }
        try await step("start again: a new epoch is initialized with the admin password") {
            try await spike(["dev", "up", "--dir", cluster.directory, "--admin-password-file", passwordFile], expect: "ready")
        }
        try await step("the marker is gone for good; new secrets work") {
            try await spike(["secret", "get", marker, "value"], as: "env", fails: "not found")
            try await spike(["secret", "put", marker, "value=after-the-reset"], as: "env", expect: "OK")
            return try await spike(["secret", "get", marker, "value"], as: "env", expect: "after-the-reset")
        }
        try await step("the audit report names what happened, in order") { try history() }
        try? FileManager.default.removeItem(atPath: shards)
        print("drill passed: the cluster in \(cluster.directory) runs a new epoch; its log holds the drill's history")
    }

    /// Prints a step, runs it, and prints what it said (or why it failed, then stops the drill).
    private func step(_ title: String, _ body: () async throws -> String) async throws {
        print("• \(title) … ", terminator: "")
        fflush(nil)
        do {
            let said = try await body()
            var line = said.split(separator: "\n").first { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if line.hasPrefix("Error: ") { line = "refused as it should be: " + line.dropFirst("Error: ".count) }
            print("ok" + (line.isEmpty ? "" : ": " + line))
            fflush(nil)
        } catch {
            print("FAILED")
            fflush(nil)
            throw CommandFailure("the drill stopped at \"\(title)\": \(error)")
        }
    }

    /// Runs this executable with the environment of `DIR/<file>`; checks its exit status and output.
    @discardableResult
    private func spike(_ arguments: [String], as file: String? = nil, input: String = "", adding extra: [String: String] = [:],
                       expect: String? = nil, fails: String? = nil) async throws -> String {
        let environment = try (file.map { try exports(cluster.path($0)) } ?? [:]).merging(extra) { $1 }
        let (status, output) = try await DrillProcess.run(arguments, environment: environment, input: input)
        if let fails {
            guard status != 0, output.contains(fails) else { throw CommandFailure("`spike \(arguments.joined(separator: " "))` should fail with \"\(fails)\": \(output)") }
        } else {
            guard status == 0 else { throw CommandFailure("`spike \(arguments.joined(separator: " "))` failed: \(output)") }
            if let expect, !output.contains(expect) {
                throw CommandFailure("`spike \(arguments.joined(separator: " "))` did not say \"\(expect)\": \(output)")
            }
        }
        return output
    }

    /// The `export NAME='value'` lines `spike dev up` writes.
    private func exports(_ path: String) throws -> [String: String] {
        var values: [String: String] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { values[String(pair[0])] = String(pair[1]).trimmingCharacters(in: CharacterSet(charactersIn: "'")) }
        }
        return values
    }

    private func shardFiles(_ directory: String) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory + "/recover").filter { $0.hasPrefix("spike.recovery.") }
        guard !names.isEmpty else { throw CommandFailure("no recovery shard files in \(directory)/recover") }
        return names.sorted().map { directory + "/recover/" + $0 }
    }

    private func kill(_ name: String) throws {
        guard let pid = cluster.runningPID(name) else { throw CommandFailure("\(name) is not running") }
        Glibc.kill(pid, SIGKILL)
        let deadline = ContinuousClock.now + .seconds(10)
        while DevCluster.isAlive(pid) {
            guard ContinuousClock.now < deadline else { throw CommandFailure("\(name) (pid \(pid)) still runs 10 s after SIGKILL") }
            usleep(10_000)
        }
    }

    private func killEverything() async throws -> String {
        let names = cluster.componentNames().filter { cluster.runningPID($0) != nil }
        for name in names { try kill(name) }
        return "\(names.count) processes"
    }

    private func waitUntilReady(within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            // Not ready yet is a status to wait out; failing to run `spike` at all is an error.
            if try await DrillProcess.run(["dev", "status", "--dir", cluster.directory], environment: [:], input: "").status == 0 { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw CommandFailure("the Nexus was not ready within \(limit)")
    }

    /// The log's account of the drill: `spike log audit`'s findings, which must name each
    /// incident the drill caused, in the order it caused them (earlier history may come first).
    private func history() throws -> String {
        let location = try LogLocation.parse(["--data-dir", cluster.path("nexus")])
        let log = try location.open()
        defer { log.close() }
        let report = try LogAudit.report(of: log, keyring: try LogKeyOptions.parse([]).keyring(for: location), filter: EventFilter())
        let expected = ["The Nexus crashed", "3 wrong passwords", "was recovered from", "The Nexus crashed", "The Nexus crashed",
                        "restored from recovery shards", "was rotated from epoch", "The Nexus crashed", "set of recovery shards was refused",
                        "was recovered from", "The system was reset"]
        var rest = report.findings[...]
        for incident in expected {
            guard let found = rest.firstIndex(where: { $0.text.contains(incident) }) else {
                throw CommandFailure("the audit report does not say \"\(incident)\" where the drill expected it; its findings are:\n"
                    + report.findings.map { "  " + $0.text }.joined(separator: "\n"))
            }
            rest = rest[(found + 1)...]
        }
        let lastReset = report.findings.lastIndex { $0.text.contains("The system was reset") }!
        return "the audit report names the drill's \(expected.count) incidents in order; the last before the reset:\n"
            + report.findings[max(0, lastReset - 3)...lastReset].map { "    " + $0.text }.joined(separator: "\n")
    }
}

/// This executable as a child process: its status and its output (stdout and stderr together).
enum DrillProcess {
    static func run(_ arguments: [String], environment: [String: String], input: String) async throws -> (status: Int32, output: String) {
        let completed = try await ChildProcess.running(DevCluster.executable, arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
                                                       input: Array(input.utf8), mergingStandardError: true)
        return (completed.termination.status, completed.standardOutput)
    }
}
