import EventLog
import Foundation
import Projections
import Testing

extension LocalClusters {
    /// Issue 4's end-to-end scenarios: real `spike` processes (a development trust domain, three
    /// Keepers, a Nexus) over real mutual TLS on loopback, killed with SIGKILL.
    @Suite(.serialized) struct DevClusterTests {
        let dir = "/tmp/spk-e2e-\(UInt32.random(in: 0...UInt32.max))"

        func spike(_ arguments: [String]) async throws -> (status: Int32, output: String) {
            try await SpikeExecutable.running(arguments)
        }

        func pid(_ name: String) throws -> pid_t {
            pid_t(try String(contentsOfFile: "\(dir)/run/\(name).pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        }

        /// Polls `spike dev status` until `condition` holds on its output, or fails after `limit`.
        func waitForStatus(within limit: Duration, _ condition: (Int32, String) -> Bool) async throws -> String {
            let deadline = ContinuousClock.now + limit
            var last = ""
            while ContinuousClock.now < deadline {
                let (status, output) = try await spike(["dev", "status", "--dir", dir])
                last = output
                if condition(status, output) { return output }
                try await Task.sleep(for: .milliseconds(200))
            }
            Issue.record("status never matched within \(limit); last:\n\(last)")
            return last
        }

        @Test func crashesOfTheNexusAndTheKeepersAreSurvived() async throws {
            let passwordFile = dir + "-password"
            try "violet kettle on a tuesday".write(toFile: passwordFile, atomically: true, encoding: .utf8)
            defer {
                _ = try? SpikeExecutable.run(["dev", "down", "--dir", dir, "--purge"])
                unlink(passwordFile)
            }
            let up = try await spike(["dev", "up", "--dir", dir, "--admin-password-file", passwordFile, "--poll-interval", "1s"])
            #expect(up.status == 0, "\(up.output)")
            #expect(!up.output.contains("violet kettle"), "the password must not be echoed")
            let env = try String(contentsOfFile: dir + "/env", encoding: .utf8)
            #expect(env.contains("SPIFFE_ENDPOINT_SOCKET=") && env.contains("SPIKE_NEXUS_API_URL='https://127.0.0.1:"))
            _ = try await waitForStatus(within: .seconds(10)) { status, _ in status == 0 }

            // The processes that hold the root key and the shares write no core file, and their
            // memory is locked (as root, or with an unlimited RLIMIT_MEMLOCK; else they warned).
            for name in ["nexus", "keeper-1"] {
                let limits = try String(contentsOfFile: "/proc/\(try pid(name))/limits", encoding: .utf8)
                let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }?.split(separator: " ", omittingEmptySubsequences: true)
                #expect(core?.dropFirst(4).prefix(2) == ["0", "0"], "\(name): \(core ?? [])")
                let status = try String(contentsOfFile: "/proc/\(try pid(name))/status", encoding: .utf8)
                let locked = status.split(separator: "\n").first { $0.hasPrefix("VmLck:") }.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? 0
                let output = try String(contentsOfFile: "\(dir)/logs/\(name).log", encoding: .utf8)
                if getuid() == 0 {
                    #expect(locked > 0 && !output.contains("memory is not locked"), "\(name): VmLck \(locked) kB")
                } else {
                    #expect(locked > 0 || output.contains("memory is not locked"), "\(name): VmLck \(locked) kB")
                }
            }

            // A running Nexus is the log's one writer: its snapshots are not deleted under it.
            let refused = try await spike(["log", "snapshots", "--data-dir", dir + "/nexus", "--delete"])
            #expect(refused.status != 0 && refused.output.contains("a Nexus has the log in \(dir)/nexus open: stop it first"), "\(refused.output)")

            // SIGKILL the Nexus and start it again: the Keepers give the root key back.
            kill(try pid("nexus"), SIGKILL)
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await spike(["dev", "start", "--dir", dir, "nexus"]).status == 0)
            _ = try await waitForStatus(within: .seconds(10)) { status, output in status == 0 && output.contains("nexus state      ready") }

            // SIGKILL a Keeper and start it again, empty: within one poll interval it is found empty
            // and sent its share; the next poll finds the share there.
            kill(try pid("keeper-2"), SIGKILL)
            #expect(try await spike(["dev", "start", "--dir", dir, "keeper-2"]).status == 0)
            let restarted = ContinuousClock.now
            _ = try await waitForStatus(within: .seconds(4)) { _, output in output.contains("keeper 2       has-shard at") && ContinuousClock.now - restarted > .seconds(1) }

            // Two of three Keepers stopped (SIGSTOP: they keep their shares, and answer nothing) and
            // the Nexus restarted: sealed, and /readyz says why; one Keeper returns: ready.
            let (first, third) = (try pid("keeper-1"), try pid("keeper-3"))
            kill(first, SIGSTOP)
            kill(third, SIGSTOP)
            defer {
                kill(first, SIGCONT)
                kill(third, SIGCONT)
            }
            kill(try pid("nexus"), SIGKILL)
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await spike(["dev", "start", "--dir", dir, "nexus"]).status == 0)
            let sealed = try await waitForStatus(within: .seconds(10)) { status, output in
                status != 0 && output.contains("sealed: 1 of 2 shares in hand") && output.contains("Keeper 1 unreachable")
            }
            #expect(sealed.contains("nexus state      sealed"))
            try await Task.sleep(for: .seconds(2))
            #expect(try await spike(["dev", "status", "--dir", dir]).output.contains("nexus state      sealed"), "one share is not enough")
            kill(first, SIGCONT)
            _ = try await waitForStatus(within: .seconds(5)) { _, output in output.contains("nexus state      ready") }
            kill(third, SIGCONT)

            let down = try await spike(["dev", "down", "--dir", dir])
            #expect(down.status == 0 && down.output.contains("stopped nexus"))

            // The clean stop left a snapshot of the data (ADR-0017), of this log; deleting it loses
            // nothing (SnapshotStartTests: the next start folds the whole log).
            let shown = try await spike(["log", "snapshots", "--data-dir", dir + "/nexus"])
            #expect(shown.status == 0 && shown.output.contains("snapshot of record") && shown.output.contains("has its link"), "\(shown.output)")
            let deleted = try await spike(["log", "snapshots", "--data-dir", dir + "/nexus", "--delete"])
            #expect(deleted.status == 0 && deleted.output.hasPrefix("deleted the snapshot of record"), "\(deleted.output)")
            #expect(try await spike(["log", "snapshots", "--data-dir", dir + "/nexus"]).output.hasPrefix("no snapshot in"))

            // The log tells the story: two crashes, restores from the Keepers, a rehydration, a clean stop.
            let log = try EventLog.open(directory: dir + "/nexus", options: { var o = EventLog.Options(); o.readOnly = true; return o }())
            let key = try LogKeyFile.readPrivateKey(at: dir + "/nexus/audit-key.pem")
            let projection = try NexusProjections.replay(log, keyring: LogKeyring([key])).lifecycle
            #expect(projection.genesis?.threshold == 2 && projection.genesis?.shares == 3)
            #expect(projection.crashes == 2, "two SIGKILLs of the Nexus are two crashes in the log")
            #expect(projection.restores >= 1)
            #expect(projection.running.isEmpty, "dev down stopped the Nexus cleanly")
            #expect((projection.keepers[2]?.rehydrations ?? 0) >= 1, "Keeper 2 got its share back")
            #expect((projection.keepers[1]?.polls[.unreachable] ?? 0) >= 1)
            log.close()
        }
    }
}
