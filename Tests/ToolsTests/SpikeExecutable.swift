import Foundation

/// The `spike` executable built next to the test binary, run as a user would.
enum SpikeExecutable {
    static var url: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("spike")
    }

    /// Runs `spike` to completion; returns its exit status and its stdout and stderr together.
    @discardableResult
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let result = try runSeparately(arguments, environment: environment, mergeStandardError: true)
        return (result.status, result.stdout)
    }

    /// `run` on a Dispatch thread, with `input` on stdin: waiting for a process must not hold one
    /// of the few cooperative threads that the other tests need meanwhile.
    static func running(_ arguments: [String], environment: [String: String] = [:], input: String = "") async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result {
                    let result = try runSeparately(arguments, environment: environment, input: Data(input.utf8), mergeStandardError: true)
                    return (result.status, result.stdout)
                })
            }
        }
    }

    /// Runs `spike` to completion with `input` on its stdin; stdout and stderr apart. Variables
    /// set to "" in `environment` are removed.
    static func runSeparately(_ arguments: [String], environment: [String: String] = [:], input: Data = Data(),
                              mergeStandardError: Bool = false) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.filter { !$0.value.isEmpty }
        // Files, not pipes: nothing can fill up and block while the other stream is read.
        let directory = NSTemporaryDirectory() + "spike-run-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = ["in", "out", "err"].map { directory + "/" + $0 }
        try input.write(to: URL(fileURLWithPath: paths[0]))
        for path in paths.dropFirst() { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let (stdin, stdout, stderr) = (FileHandle(forReadingAtPath: paths[0])!, FileHandle(forWritingAtPath: paths[1])!,
                                       FileHandle(forWritingAtPath: paths[2])!)
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = mergeStandardError ? stdout : stderr
        try process.run()
        process.waitUntilExit()
        let read = { (path: String) in String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return (process.terminationStatus, read(paths[1]), read(paths[2]))
    }
}
