import ChildProcesses
import Foundation

/// The `spike` executable built next to the test binary, run as a user would.
enum SpikeExecutable {
    static var url: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("spike")
    }

    /// How long one `spike` command may take (the drill, the longest, takes about two minutes
    /// on two busy cores): one that hangs fails its test, killed, instead of hanging the run.
    static let timeLimit = Duration.seconds(600)

    /// Runs `spike` to completion; returns its exit status and its stdout and stderr together.
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let completed = try ChildProcess.run(url.path, arguments, environment: merged(environment), mergingStandardError: true, timeLimit: timeLimit)
        return (completed.termination.status, completed.standardOutput)
    }

    /// `run` on a Dispatch thread, with `input` on stdin: waiting for a process must not hold one
    /// of the few cooperative threads that the other tests need meanwhile.
    static func running(_ arguments: [String], environment: [String: String] = [:], input: String = "") async throws -> (status: Int32, output: String) {
        let completed = try await ChildProcess.running(url.path, arguments, environment: merged(environment), input: Array(input.utf8),
                                                       mergingStandardError: true, timeLimit: timeLimit)
        return (completed.termination.status, completed.standardOutput)
    }

    /// `running` with stdout and stderr apart.
    static func runningSeparately(_ arguments: [String], environment: [String: String] = [:], input: String = "") async throws
        -> (status: Int32, stdout: String, stderr: String) {
        let completed = try await ChildProcess.running(url.path, arguments, environment: merged(environment), input: Array(input.utf8),
                                                       timeLimit: timeLimit)
        return (completed.termination.status, completed.standardOutput, completed.standardError)
    }

    /// This process' environment with `changes`; a variable set to "" is removed.
    private static func merged(_ changes: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(changes) { $1 }.filter { !$0.value.isEmpty }
    }
}
