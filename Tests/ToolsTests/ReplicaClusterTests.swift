import Foundation
import Testing

extension LocalClusters {
    /// Two Nexus replicas of one system, real processes on one log in the cluster's own
    /// PostgreSQL (`spike dev up --replicas 2 --store postgres`): a write through one is read
    /// through the other, writers on both to the same secrets lose nothing and number versions
    /// without a gap, both refuse writes and serve reads while PostgreSQL is stopped and take
    /// writes again once it is back, a replica SIGKILLed in a stream of writes loses no
    /// acknowledged one, and the audit keeps a lane per replica with the crash in the right one.
    @Suite(.serialized) struct ReplicaClusterTests {
        let dir = "/tmp/spk-ha-\(UInt32.random(in: 0...UInt32.max))"

        /// `spike` as the superuser, through replica `replica` (0: the first, `nexus`).
        func spike(_ arguments: [String], through replica: Int? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
            var environment = FileManager.default.fileExists(atPath: dir + "/env") ? try LocalClusters.exports(at: dir + "/env") : [:]
            if let replica, let urls = environment["SPIKE_NEXUS_API_URLS"]?.split(separator: ",") {
                environment["SPIKE_NEXUS_API_URL"] = String(urls[replica])
            }
            return try await SpikeExecutable.runningSeparately(arguments, environment: environment)
        }

        func value(_ path: String, through replica: Int, version: Int? = nil) async throws -> String? {
            let read = try await spike(["secret", "get", path, "value"] + (version.map { ["--version", String($0)] } ?? []), through: replica)
            return read.status == 0 ? read.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil
        }

        /// The last line of a replica's log saying how it folded its data.
        func lastFold(of replica: String) throws -> String {
            let log = try String(contentsOfFile: dir + "/logs/\(replica).log", encoding: .utf8)
            return log.split(separator: "\n").last { $0.contains("spike nexus: data folded from") }.map(String.init) ?? "(none in \(log))"
        }

        @Test func twoReplicasServeOneSystemAndLoseNothing() async throws {
            defer { _ = try? SpikeExecutable.run(["dev", "down", "--dir", dir, "--purge"]) }
            let up = try await spike(["dev", "up", "--dir", dir, "--poll-interval", "1s", "--store", "postgres", "--replicas", "2"])
            #expect(up.status == 0, "\(up.stdout) \(up.stderr)")
            let env = try LocalClusters.exports(at: dir + "/env")
            let urls = try #require(env["SPIKE_NEXUS_API_URLS"]).split(separator: ",").map(String.init)
            #expect(urls.count == 2 && env["SPIKE_NEXUS_API_URL"] == urls[0] && urls[0] != urls[1], "\(env)")
            let status = try await spike(["dev", "status", "--dir", dir])
            #expect(status.status == 0 && status.stdout.contains("nexus-2 state    ready"), "\(status.stdout)")
            // Every replica has its own data directory with the one audit key.
            #expect(FileManager.default.contents(atPath: dir + "/nexus-2/audit-key.pem") == FileManager.default.contents(atPath: dir + "/nexus/audit-key.pem"))

            // Written through the first, read through the second (once its follower folded it).
            #expect(try await spike(["secret", "put", "ha/one", "value=written-on-A"], through: 0).status == 0)
            var seen = try await value("ha/one", through: 1)
            for _ in 0..<50 where seen == nil {
                try await Task.sleep(for: .milliseconds(100))
                seen = try await value("ha/one", through: 1)
            }
            #expect(seen == "written-on-A")

            // Writers on both replicas at once, to the same secrets: each write is one version.
            let paths = ["ha/p0", "ha/p1", "ha/p2"]
            let written = try await withThrowingTaskGroup(of: (String, String, Int32).self) { group in
                for path in paths {
                    for replica in 0..<2 {
                        for index in 0..<3 {
                            group.addTask {
                                let value = "r\(replica)-\(index)"
                                return (path, value, try await spike(["secret", "put", path, "value=\(value)"], through: replica).status)
                            }
                        }
                    }
                }
                var all: [(String, String, Int32)] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(written.allSatisfy { $0.2 == 0 }, "\(written.filter { $0.2 != 0 })")
            for path in paths {
                for replica in 0..<2 {
                    var values: Set<String> = []
                    for version in 1...6 {
                        var read = try await value(path, through: replica, version: version)
                        for _ in 0..<30 where read == nil {
                            try await Task.sleep(for: .milliseconds(100))
                            read = try await value(path, through: replica, version: version)
                        }
                        if let read { values.insert(read) }
                    }
                    #expect(values == Set(written.filter { $0.0 == path }.map(\.1)), "\(path) through replica \(replica): \(values)")
                    #expect(try await value(path, through: replica, version: 7) == nil, "no seventh version of \(path)")
                }
            }

            // PostgreSQL goes away: both replicas refuse writes, with nothing written, and serve reads.
            #expect(try await spike(["dev", "stop", "--dir", dir, "postgres"]).status == 0)
            for replica in 0..<2 {
                let refused = try await spike(["secret", "put", "ha/during", "value=lost"], through: replica)
                #expect(refused.status != 0 && refused.stderr.contains("cannot reach its log's store"), "\(refused)")
                #expect(try await value("ha/one", through: replica) == "written-on-A")
            }
            #expect(try await spike(["dev", "start", "--dir", dir, "postgres"]).status == 0)
            for replica in 0..<2 {
                var back = try await spike(["secret", "put", "ha/back\(replica)", "value=\(replica)"], through: replica)
                for _ in 0..<40 where back.status != 0 {
                    try await Task.sleep(for: .milliseconds(250))
                    back = try await spike(["secret", "put", "ha/back\(replica)", "value=\(replica)"], through: replica)
                }
                #expect(back.status == 0, "replica \(replica) takes writes again: \(back)")
            }
            for replica in 0..<2 {
                var read = try await value("ha/back\(1 - replica)", through: replica)
                for _ in 0..<30 where read == nil {
                    try await Task.sleep(for: .milliseconds(100))
                    read = try await value("ha/back\(1 - replica)", through: replica)
                }
                #expect(read == "\(1 - replica)")
                #expect(try await value("ha/during", through: replica) == nil, "the refused write is nowhere")
            }

            // A clean stop of the second replica leaves a snapshot of its data in PostgreSQL; its
            // start folds from it and the log after it (ADR-0017), and so does the first's below.
            #expect(try await spike(["dev", "stop", "--dir", dir, "nexus-2"]).status == 0)
            #expect(try await spike(["dev", "start", "--dir", dir, "nexus-2"]).status == 0)
            var served = try await value("ha/one", through: 1)
            for _ in 0..<100 where served == nil {
                try await Task.sleep(for: .milliseconds(100))
                served = try await value("ha/one", through: 1)
            }
            #expect(served == "written-on-A")
            #expect(try lastFold(of: "nexus-2").contains("data folded from the snapshot of record"))

            // The first replica is SIGKILLed in the middle of a stream of writes through it:
            // every write it acknowledged is read through the second.
            var acknowledged: [Int] = []
            var index = 0
            while acknowledged.count < 12 {
                let put = try await spike(["secret", "put", "ha/stream\(index)", "value=s\(index)"], through: 0)
                if put.status == 0 { acknowledged.append(index) }
                index += 1
                // A replica that refuses every write ends the test, not the run.
                try #require(index - acknowledged.count < 20, "20 writes through the first replica failed, the last: \(put.stderr)")
                if acknowledged.count == 8 {
                    let pid = pid_t(try String(contentsOfFile: dir + "/run/nexus.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
                    // Killed while the next write is on its way.
                    let next = index
                    async let racing = spike(["secret", "put", "ha/stream\(next)", "value=s\(next)"], through: 0)
                    try await Task.sleep(for: .milliseconds(30))
                    kill(pid, SIGKILL)
                    if try await racing.status == 0 { acknowledged.append(next) }
                    index += 1
                    break
                }
            }
            for written in acknowledged {
                var read = try await value("ha/stream\(written)", through: 1)
                for _ in 0..<30 where read == nil {
                    try await Task.sleep(for: .milliseconds(100))
                    read = try await value("ha/stream\(written)", through: 1)
                }
                #expect(read == "s\(written)", "acknowledged ha/stream\(written) is lost")
            }
            // The second replica goes on taking writes while the first is down.
            #expect(try await spike(["secret", "put", "ha/after", "value=b"], through: 1).status == 0)
            #expect(try await spike(["dev", "start", "--dir", dir, "nexus"]).status == 0)
            var back = try await value("ha/after", through: 0)
            for _ in 0..<100 where back == nil {
                try await Task.sleep(for: .milliseconds(100))
                back = try await value("ha/after", through: 0)
            }
            #expect(back == "b", "the restarted replica folds what the other wrote meanwhile")
            #expect(try lastFold(of: "nexus").contains("data folded from the snapshot of record"))
            #expect(try await spike(["dev", "down", "--dir", dir]).status == 0)

            // The audit: one lane per replica; the first one's crash, not a crash of the second.
            #expect(try await spike(["dev", "start", "--dir", dir, "postgres"]).status == 0)
            let url = "postgres:///spike?host=\(dir)/postgres&user=\(getuid() == 0 ? "postgres" : NSUserName())"
            let audit = try await spike(["log", "audit", "--postgres-url", url, "--data-dir", dir + "/nexus"])
            #expect(audit.status == 0, "\(audit.stderr)")
            let crashes = audit.stdout.split(separator: "\n").filter { $0.contains("crashed after") && $0.contains("never stopped cleanly") }
            #expect(crashes.count == 1 && crashes[0].contains("Nexus replica nexus crashed"), "\(audit.stdout)")
            #expect(audit.stdout.contains("replica nexus-2, instance"), "\(audit.stdout)")
            let verify = try await spike(["log", "verify", "--postgres-url", url, "--data-dir", dir + "/nexus"])
            #expect(verify.status == 0 && verify.stdout.contains("intact"), "\(verify)")
        }
    }
}
