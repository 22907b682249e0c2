import Foundation
import PostgresEventStore
import Testing

extension LocalClusters {
    /// A real cluster whose Nexus keeps its log in the private PostgreSQL server of `scripts/test`
    /// (SPIKE_TEST_POSTGRES_URL): it serves, survives a SIGKILL with every acknowledged write,
    /// and its log moves to a data directory and back with `spike log copy`, chain intact.
    @Suite(.serialized) struct PostgresClusterTests {
        let dir = "/tmp/spk-pg-\(UInt32.random(in: 0...UInt32.max))"

        func spike(_ arguments: [String], input: String = "") async throws -> (status: Int32, stdout: String, stderr: String) {
            let environment = FileManager.default.fileExists(atPath: dir + "/env") ? try LocalClusters.exports(at: dir + "/env") : [:]
            return try await SpikeExecutable.runningSeparately(arguments, environment: environment, input: input)
        }

        func nexusPID() throws -> pid_t {
            pid_t(try String(contentsOfFile: "\(dir)/run/nexus.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        }

        @Test func aNexusOnPostgresKeepsEveryAcknowledgedWriteAndItsLogCopiesBothWays() async throws {
            guard let server = ProcessInfo.processInfo.environment["SPIKE_TEST_POSTGRES_URL"] else {
                Issue.record("SPIKE_TEST_POSTGRES_URL is not set: run scripts/test, which starts a private PostgreSQL")
                return
            }
            let database = "spike_cluster_\(UInt32.random(in: 0...UInt32.max))"
            let serverURL = try PostgresURL(server)
            let url = try PostgresAdmin.createDatabase(database, at: serverURL)
            let copyURL = try PostgresAdmin.createDatabase(database + "_copy", at: serverURL)
            defer {
                _ = try? SpikeExecutable.run(["dev", "down", "--dir", dir, "--purge"])
                try? PostgresAdmin.dropDatabase(url.database, at: serverURL)
                try? PostgresAdmin.dropDatabase(copyURL.database, at: serverURL)
            }
            let up = try await spike(["dev", "up", "--dir", dir, "--poll-interval", "1s", "--store", "postgres", "--postgres-url", "\(url)"])
            #expect(up.status == 0, "\(up.stdout) \(up.stderr)")
            #expect(up.stdout.contains("log in \(url)"), "\(up.stdout)")
            // Nothing of the log is in the data directory: only the Nexus' audit key.
            #expect(!FileManager.default.fileExists(atPath: dir + "/nexus/data.mdb"))

            for index in 0..<20 {
                let put = try await spike(["secret", "put", "pg/s\(index)", "value=v\(index)"])
                #expect(put.status == 0, "\(put.stderr)")
            }
            // SIGKILL the Nexus: the log in PostgreSQL and the Keepers' shares bring it back.
            kill(try nexusPID(), SIGKILL)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await spike(["dev", "up", "--dir", dir]).status == 0)
            for index in 0..<20 {
                let get = try await spike(["secret", "get", "pg/s\(index)", "value"])
                #expect(get.status == 0 && get.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "v\(index)", "\(get)")
            }
            _ = try SpikeExecutable.run(["dev", "down", "--dir", dir])

            // Every log tool reads the log where it is; the audit tells of the crash.
            let pgArguments = ["--postgres-url", "\(url)", "--data-dir", dir + "/nexus"]
            let audit = try await spike(["log", "audit"] + pgArguments)
            #expect(audit.status == 0 && audit.stdout.contains("The Nexus crashed"), "\(audit)")
            let verify = try await spike(["log", "verify"] + pgArguments)
            #expect(verify.status == 0 && verify.stdout.contains("intact"), "\(verify)")

            // PostgreSQL → a directory → another database: the same records, the same export.
            let toDirectory = try await spike(["log", "copy", "--from", "\(url)", "--to", dir + "/copy"])
            #expect(toDirectory.status == 0, "\(toDirectory)")
            let back = try await spike(["log", "copy", "--from", dir + "/copy", "--to", "\(copyURL)"])
            #expect(back.status == 0 && back.stdout.contains("target \(copyURL): records"), "\(back)")
            let key = ["--key", dir + "/nexus/audit-key.pem"]
            let original = try await spike(["log", "export"] + pgArguments)
            let inDirectory = try await spike(["log", "export", "--data-dir", dir + "/copy"] + key)
            let inCopy = try await spike(["log", "export", "--postgres-url", "\(copyURL)"] + key)
            #expect(original.status == 0 && original.stdout.split(separator: "\n").count > 20, "\(original.stderr)")
            #expect(inDirectory.stdout == original.stdout && inCopy.stdout == original.stdout)
            // A copy never lands on a log: the target must be empty.
            let again = try await spike(["log", "copy", "--from", dir + "/copy", "--to", "\(copyURL)"])
            #expect(again.status != 0 && again.stderr.contains("already holds a log"), "\(again)")
        }

        /// The cluster's own PostgreSQL goes away: writes answer 503 store_unavailable with nothing
        /// written, reads go on from memory; once it is back, writes are taken again and every
        /// acknowledged one is there.
        @Test func whilePostgresIsDownWritesAreRefusedAndReadsGoOn() async throws {
            defer { _ = try? SpikeExecutable.run(["dev", "down", "--dir", dir, "--purge"]) }
            let up = try await spike(["dev", "up", "--dir", dir, "--poll-interval", "1s", "--store", "postgres"])
            #expect(up.status == 0, "\(up.stdout) \(up.stderr)")
            #expect(up.stdout.contains("/spike?host=\(dir)/postgres"), "\(up.stdout)")
            let status = try await spike(["dev", "status", "--dir", dir])
            #expect(status.stdout.contains("postgres         running"), "\(status.stdout)")
            #expect(try await spike(["secret", "put", "pg/before", "value=kept"]).status == 0)

            #expect(try await spike(["dev", "stop", "--dir", dir, "postgres"]).status == 0)
            let refused = try await spike(["secret", "put", "pg/during", "value=lost"])
            #expect(refused.status != 0 && refused.stderr.contains("cannot reach its log's store"), "\(refused)")
            let read = try await spike(["secret", "get", "pg/before", "value"])
            #expect(read.status == 0 && read.stdout.contains("kept"), "\(read)")

            #expect(try await spike(["dev", "start", "--dir", dir, "postgres"]).status == 0)
            var after = try await spike(["secret", "put", "pg/after", "value=back"])
            for _ in 0..<20 where after.status != 0 {
                try await Task.sleep(for: .milliseconds(250))
                after = try await spike(["secret", "put", "pg/after", "value=back"])
            }
            #expect(after.status == 0, "\(after)")
            #expect(try await spike(["secret", "get", "pg/after", "value"]).stdout.contains("back"))
            #expect(try await spike(["secret", "get", "pg/during", "value"]).status != 0)
            // `dev down` stops the cluster's PostgreSQL last; the log is read with it started alone.
            let down = try await spike(["dev", "down", "--dir", dir])
            #expect(down.stdout.contains("stopped postgres") && down.stdout.contains("the log stays in postgres://"), "\(down)")
            #expect(try await spike(["dev", "start", "--dir", dir, "postgres"]).status == 0)
            let verify = try await spike(["log", "verify", "--postgres-url", "postgres:///spike?host=\(dir)/postgres&user=\(getuid() == 0 ? "postgres" : NSUserName())",
                                          "--data-dir", dir + "/nexus"])
            #expect(verify.status == 0 && verify.stdout.contains("intact"), "\(verify)")
        }
    }
}
