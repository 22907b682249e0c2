import CProcessControl
import Foundation
import Synchronization

/// A child process, started with `posix_spawn` and waited for with `waitpid`.
///
/// Not Foundation's `Process`: on Linux it learns that a child ended when a socket the child
/// inherited reaches end of file, so any other process that holds that socket (a daemon the child
/// started, or a process another thread spawned at that moment, which inherits it) keeps
/// `waitUntilExit` waiting long after the child is gone (`sh -c 'sleep 5 & echo $!'`: 5 s). Here
/// a child gets descriptors 0 to 2 and nothing else, and its end is the kernel's word.
public final class ChildProcess: Sendable {
    /// How a child ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        /// The status a shell reports: the exit code, or 128 plus the signal.
        public var status: Int32 {
            switch self {
            case .exited(let code): code
            case .signaled(let signal): 128 + signal
            }
        }

        public var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .signaled(let signal): "killed by signal \(signal)"
            }
        }

        init(waitStatus status: Int32) {
            self = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        }
    }

    /// A standard stream of the child: /dev/null, or an open descriptor.
    public enum Stream: Sendable {
        case null
        case descriptor(Int32)
    }

    public let pid: pid_t
    private let termination = Mutex<Termination?>(nil)

    /// Starts `executable`. `environment` replaces this process' environment when given.
    /// `ownProcessGroup` keeps a terminal's Ctrl-C, sent to the foreground group, from reaching it.
    public init(executable: String, arguments: [String], environment: [String: String]? = nil,
                standardInput: Stream = .null, standardOutput: Stream = .null, standardError: Stream = .null,
                ownProcessGroup: Bool = false) throws(ChildProcessError) {
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { if null >= 0 { close(null) } }
        func descriptor(_ stream: Stream) throws(ChildProcessError) -> Int32 {
            switch stream {
            case .null:
                guard null >= 0 else { throw .cannotStart(executable, reason: "cannot open /dev/null: \(String(cString: strerror(errno)))") }
                return null
            case .descriptor(let fd): return fd
            }
        }
        let fds = (try descriptor(standardInput), try descriptor(standardOutput), try descriptor(standardError))
        var argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        argv.append(nil)
        var envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } }
        defer { envp?.forEach { free($0) } }
        envp?.append(nil)
        var pid: pid_t = 0
        let failed = argv.withUnsafeBufferPointer { argv in
            if var envp {
                return envp.withUnsafeMutableBufferPointer { envp in
                    spike_spawn(&pid, executable, argv.baseAddress, envp.baseAddress, fds.0, fds.1, fds.2, ownProcessGroup ? 1 : 0)
                }
            }
            return spike_spawn(&pid, executable, argv.baseAddress, environ, fds.0, fds.1, fds.2, ownProcessGroup ? 1 : 0)
        }
        guard failed == 0 else { throw .cannotStart(executable, reason: String(cString: strerror(failed))) }
        self.pid = pid
    }

    /// Waits for the child to end (blocking this thread), and says how it ended.
    @discardableResult
    public func wait() -> Termination {
        if let ended = termination.withLock({ $0 }) { return ended }
        // Waits without reaping, so that `poll` on another thread never races this for the status.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
        guard let ended = reap(blocking: true) else { preconditionFailure("child \(pid) was reaped outside ChildProcess") }
        return ended
    }

    /// How the child ended, or nil while it runs.
    public func poll() -> Termination? { reap(blocking: false) }

    public var isRunning: Bool { poll() == nil }

    /// Sends `signal` to the child unless it has been waited for (its pid may be another's now).
    public func send(_ signal: Int32) {
        termination.withLock { ended in
            if ended == nil { _ = kill(pid, signal) }
        }
    }

    private func reap(blocking: Bool) -> Termination? {
        termination.withLock { ended in
            if let ended { return ended }
            var status: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &status, blocking ? 0 : WNOHANG) } while result == -1 && errno == EINTR
            guard result == pid else { return nil }
            ended = Termination(waitStatus: status)
            return ended
        }
    }

    /// What a child run to its end printed, and how it ended.
    public struct Completed: Sendable {
        public var termination: Termination
        public var standardOutput: String
        public var standardError: String
    }

    /// Runs `executable` to its end with `input` on its stdin. Its output goes through files in a
    /// directory only this user can read (a pipe could fill up while the other one is read, and
    /// the input may be a password); with `mergingStandardError` stderr goes to stdout's file.
    /// A child still running after `timeLimit` is killed (SIGKILL) and `.timedOut` thrown.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           input: [UInt8] = [], mergingStandardError: Bool = false, timeLimit: Duration? = nil) throws -> Completed {
        let directory = NSTemporaryDirectory() + "spike-child-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let paths = (input: directory + "/in", output: directory + "/out", error: directory + "/err")
        try Data(input).write(to: URL(fileURLWithPath: paths.input))
        let stdin = open(paths.input, O_RDONLY | O_CLOEXEC)
        let stdout = open(paths.output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let stderr = mergingStandardError ? stdout : open(paths.error, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer { Set([stdin, stdout, stderr]).filter { $0 >= 0 }.forEach { close($0) } }
        guard stdin >= 0, stdout >= 0, stderr >= 0 else {
            throw ChildProcessError.cannotStart(executable, reason: "cannot open its files in \(directory): \(String(cString: strerror(errno)))")
        }
        let child = try ChildProcess(executable: executable, arguments: arguments, environment: environment,
                                     standardInput: .descriptor(stdin), standardOutput: .descriptor(stdout), standardError: .descriptor(stderr))
        let expiry = timeLimit.map { Expiry(child, after: $0) }
        let termination = child.wait()
        if let expiry, expiry.cancel() { throw ChildProcessError.timedOut(([executable] + arguments).joined(separator: " "), limit: expiry.limit) }
        let read = { (path: String) in String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self) }
        return Completed(termination: termination, standardOutput: read(paths.output), standardError: mergingStandardError ? "" : read(paths.error))
    }

    /// `run` on a Dispatch thread: a task waiting for a child holds none of the cooperative
    /// pool's few threads meanwhile.
    public static func running(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                               input: [UInt8] = [], mergingStandardError: Bool = false, timeLimit: Duration? = nil) async throws -> Completed {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result {
                    try run(executable, arguments, environment: environment, input: input, mergingStandardError: mergingStandardError, timeLimit: timeLimit)
                })
            }
        }
    }

    /// Kills a child still running when its time is up.
    private final class Expiry: Sendable {
        let limit: Duration
        private let expired = Atomic<Bool>(false)
        private let cancelled = Atomic<Bool>(false)

        init(_ child: ChildProcess, after limit: Duration) {
            self.limit = limit
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(limit / .nanoseconds(1)))) { [weak self] in
                // A child that ended on its own just before is not counted as killed.
                guard let self, !self.cancelled.load(ordering: .sequentiallyConsistent), child.isRunning else { return }
                self.expired.store(true, ordering: .sequentiallyConsistent)
                child.send(SIGKILL)
            }
        }

        /// Stops the timer; true if it had killed the child.
        func cancel() -> Bool {
            cancelled.store(true, ordering: .sequentiallyConsistent)
            return expired.load(ordering: .sequentiallyConsistent)
        }
    }
}

public enum ChildProcessError: Error, CustomStringConvertible {
    case cannotStart(String, reason: String)
    /// The command line (the executable and its arguments) that ran out of time.
    case timedOut(String, limit: Duration)

    public var description: String {
        switch self {
        case .cannotStart(let executable, let reason): "cannot start \(executable): \(reason)"
        case .timedOut(let command, let limit): "\(command) did not end within \(limit) and was killed"
        }
    }
}
