import ChildProcesses
import Foundation
import Nodes

/// The processes of a local development cluster in one directory (`spike dev up --dir DIR`):
/// each component's launch description in `DIR/run/<name>.json`, its pid in
/// `DIR/run/<name>.pid`, its output in `DIR/logs/<name>.log`, its bound address (for servers)
/// in `DIR/run/<name>.addr`. Components are detached processes: they outlive `spike dev up`.
struct DevCluster {
    /// How to start one component again, exactly as `spike dev up` did.
    struct Component: Codable {
        var name: String
        var arguments: [String]
        var environment: [String: String]
        /// What tells that it is up: a socket or an address file that appears.
        var readyFile: String
    }

    let directory: String

    init(directory: String) {
        self.directory = (directory as NSString).standardizingPath.hasPrefix("/")
            ? (directory as NSString).standardizingPath
            : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(directory)
    }

    var runDirectory: String { path("run") }
    func path(_ components: String...) -> String {
        components.reduce(directory) { ($0 as NSString).appendingPathComponent($1) }
    }

    static let agentNames = ["agent-nexus", "agent-keeper", "agent-superuser", "agent-recover", "agent-restore"]
    static func keeperName(_ index: Int) -> String { "keeper-\(index)" }
    /// The Nexus replicas: `nexus`, then `nexus-2`, `nexus-3`… (each also its replica name).
    static func nexusName(_ index: Int) -> String { index == 1 ? "nexus" : "nexus-\(index)" }
    static func isNexus(_ name: String) -> Bool { name == "nexus" || name.hasPrefix("nexus-") }

    /// Names in stopping order: the Nexus replicas first (so each records a clean stop while
    /// Keepers still answer), then the Keepers, then the agents.
    func componentNames() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: runDirectory)) ?? []
        let names = files.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
        func rank(_ name: String) -> Int { Self.isNexus(name) ? 0 : name.hasPrefix("keeper-") ? 1 : 2 }
        return names.sorted { (rank($0), $0.count, $0) < (rank($1), $1.count, $1) }
    }

    /// The Nexus replicas this cluster has, in order.
    func nexusNames() -> [String] { componentNames().filter(Self.isNexus) }

    /// Gives replica `name` the first replica's audit key (mode 0600), unless it has one: the
    /// key every replica's records are sealed to, which each needs to read the others'.
    func shareAuditKey(with name: String) throws {
        let target = path(name, "audit-key.pem")
        guard !FileManager.default.fileExists(atPath: target) else { return }
        try FileManager.default.createDirectory(atPath: path(name), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        guard let key = FileManager.default.contents(atPath: path("nexus", "audit-key.pem")) else {
            throw CommandFailure("\(path("nexus", "audit-key.pem")) is missing: the first replica makes it at its first start")
        }
        guard FileManager.default.createFile(atPath: target, contents: key, attributes: [.posixPermissions: 0o600]) else {
            throw CommandFailure("cannot write \(target)")
        }
    }

    func component(_ name: String) throws -> Component {
        guard let data = FileManager.default.contents(atPath: path("run", name + ".json")) else {
            throw CommandFailure("\(directory) has no component named \(name) (see `spike dev status --dir \(directory)`)")
        }
        return try JSONDecoder().decode(Component.self, from: data)
    }

    func save(_ component: Component) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(component).write(to: URL(fileURLWithPath: path("run", component.name + ".json")), options: .atomic)
    }

    /// The pid of a running component, or nil.
    func runningPID(_ name: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: path("run", name + ".pid"), encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, Self.isAlive(pid) else { return nil }
        // A pid can be reused: only one whose command line is ours counts.
        let commandLine = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
        return commandLine.contains("spike") ? pid : nil
    }

    /// Starts `component` detached and waits until its ready file appears.
    @discardableResult
    func start(_ component: Component, timeout: Duration = .seconds(30)) async throws -> pid_t {
        if let pid = runningPID(component.name) { return pid }
        try? FileManager.default.removeItem(atPath: component.readyFile)
        try FileManager.default.createDirectory(atPath: path("logs"), withIntermediateDirectories: true)
        let logPath = path("logs", component.name + ".log")
        if !FileManager.default.fileExists(atPath: logPath) { _ = FileManager.default.createFile(atPath: logPath, contents: nil) }
        let log = open(logPath, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard log >= 0 else { throw CommandFailure("cannot write \(logPath): \(String(cString: strerror(errno)))") }
        defer { close(log) }
        // In a process group of its own: a Ctrl-C in the terminal that ran `spike dev up` does not
        // stop the cluster.
        let process = try ChildProcess(
            executable: Self.executable, arguments: component.arguments,
            environment: ProcessInfo.processInfo.environment.merging(component.environment) { $1 },
            standardOutput: .descriptor(log), standardError: .descriptor(log), ownProcessGroup: true)
        let pid = process.pid
        try "\(pid)\n".write(toFile: path("run", component.name + ".pid"), atomically: true, encoding: .utf8)
        let deadline = ContinuousClock.now + timeout
        while !FileManager.default.fileExists(atPath: component.readyFile) {
            if let ended = process.poll() {
                throw CommandFailure("\(component.name) ended (\(ended)); its log:\n\(tail(logPath))")
            }
            guard ContinuousClock.now < deadline else {
                throw CommandFailure("\(component.name) did not start within \(timeout); its log:\n\(tail(logPath))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return pid
    }

    /// Stops a component: SIGTERM, then SIGKILL if it is still there after `grace`.
    func stop(_ name: String, grace: Duration = .seconds(10)) async -> Bool {
        defer { unlink(path("run", name + ".pid")) }
        guard let pid = runningPID(name) else { return false }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while Self.isAlive(pid), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if Self.isAlive(pid) { kill(pid, SIGKILL) }
        return true
    }

    /// Whether `pid` runs: it exists and is not a zombie. A component outlives the command that
    /// started it, so init collects it once it ends, and init may do that only every few seconds
    /// (seen: two), while `kill(pid, 0)` succeeds on the zombie all that time.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        // "pid (comm) state ...": the state follows the last parenthesis (comm may hold one).
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let end = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: end)...].drop { $0 == " " }.first != "Z"
    }

    func address(_ name: String) -> String? {
        (try? String(contentsOfFile: path("run", name + ".addr"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func tail(_ logPath: String, lines: Int = 20) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// This executable, to start the components with.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
