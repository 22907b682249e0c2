import ChildProcesses
import Foundation
import Testing

/// `ChildProcess`: a child's end is seen when the child ends, whatever it left running, and a
/// child gets the standard descriptors, default signal handling and nothing else of this process.
struct ChildProcessTests {
    @Test func aChildIsWaitedForWhileTheDaemonItStartedRunsOn() throws {
        // Foundation's Process waited here until the grandchild ended: it keeps the socket by
        // which Process sees its child end (ADR-0028).
        let started = ContinuousClock.now
        let run = try ChildProcess.run("/bin/sh", ["-c", "sleep 60 & echo $!"])
        let grandchild = try #require(pid_t(run.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(grandchild, SIGKILL) }
        #expect(run.termination == .exited(0))
        #expect(kill(grandchild, 0) == 0, "the grandchild still runs")
        #expect(started.duration(to: .now) < .seconds(30))
    }

    @Test func aDescriptorOpenHereIsNotInherited() throws {
        // Opened without O_CLOEXEC, as a library or another thread may have done.
        let open = Glibc.open("/dev/zero", O_RDONLY)
        try #require(open > 2)
        defer { close(open) }
        let run = try ChildProcess.run("/bin/sh", ["-c", "ls /proc/$$/fd"])
        #expect(run.termination == .exited(0))
        #expect(run.standardOutput.split(separator: "\n") == ["0", "1", "2"], "\(run.standardOutput)")
    }

    @Test func aChildStartedByAThreadThatBlocksSIGTERMStillStopsOnIt() async throws {
        let spawned = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ChildProcess, any Error>) in
            Thread {
                var blocked = sigset_t()
                sigemptyset(&blocked)
                sigaddset(&blocked, SIGTERM)
                pthread_sigmask(SIG_BLOCK, &blocked, nil)
                continuation.resume(with: Result { try ChildProcess(executable: "/bin/sleep", arguments: ["60"]) })
            }.start()
        }
        spawned.send(SIGTERM)
        #expect(spawned.wait() == .signaled(SIGTERM))
        #expect(spawned.wait().status == 128 + SIGTERM)
    }

    @Test func inputOutputAndErrorGoWhereAsked() throws {
        let apart = try ChildProcess.run("/bin/sh", ["-c", "cat; echo err >&2; exit 7"], input: Array("in\n".utf8))
        #expect(apart.termination == .exited(7))
        #expect(apart.standardOutput == "in\n" && apart.standardError == "err\n")
        let merged = try ChildProcess.run("/bin/sh", ["-c", "echo out; echo err >&2"], environment: [:], mergingStandardError: true)
        #expect(merged.standardOutput == "out\nerr\n" && merged.standardError == "")
    }

    @Test func theEnvironmentGivenReplacesThisOne() throws {
        let run = try ChildProcess.run("/usr/bin/env", [], environment: ["ONLY": "this"])
        #expect(run.standardOutput == "ONLY=this\n")
    }

    @Test func aChildPastItsTimeLimitIsKilledAndSaysSo() throws {
        let started = ContinuousClock.now
        #expect {
            try ChildProcess.run("/bin/sleep", ["60"], timeLimit: .milliseconds(300))
        } throws: { error in
            "\(error)" == "/bin/sleep 60 did not end within 0.3 seconds and was killed"
        }
        #expect(started.duration(to: .now) < .seconds(30))
        // One that ends in time is not touched.
        #expect(try ChildProcess.run("/bin/true", [], timeLimit: .milliseconds(300)).termination == .exited(0))
    }

    @Test func aMissingExecutableIsRefusedWithItsReason() throws {
        #expect {
            try ChildProcess(executable: "/nonexistent/spike", arguments: [])
        } throws: { error in
            "\(error)" == "cannot start /nonexistent/spike: No such file or directory"
        }
    }
}
