import EventLog
import Foundation
import Projections
import Testing

extension LocalClusters {
    /// Issue 11's drill with real processes: every process of a dev cluster SIGKILLed, a new Nexus
    /// and new, empty Keepers, wrong passwords refused and recorded, the right one restores, the
    /// marker reads back, and the Nexus restarted alone unseals from the Keepers it re-seeded.
    @Suite(.serialized) struct RecoveryDrillTests {
        let dir = "/tmp/spk-drill-\(UInt32.random(in: 0...UInt32.max))"
        static let password = "correct horse battery staple"

        func spike(_ arguments: [String], env file: String? = nil, input: String = "") async throws -> (status: Int32, output: String) {
            try await SpikeExecutable.running(arguments, environment: try file.map { try LocalClusters.exports(at: dir + "/" + $0) } ?? [:], input: input)
        }

        func pid(_ name: String) throws -> pid_t {
            pid_t(try String(contentsOfFile: "\(dir)/run/\(name).pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        }

        func waitUntilReady(within limit: Duration) async throws {
            let deadline = ContinuousClock.now + limit
            while ContinuousClock.now < deadline {
                if try await spike(["dev", "status", "--dir", dir]).status == 0 { return }
                try await Task.sleep(for: .milliseconds(200))
            }
            Issue.record("the Nexus was not ready within \(limit)")
            throw CancellationError()
        }

        @Test func everyProcessLostThenThePasswordRecoversTheSystem() async throws {
            let passwordFile = dir + "-password"
            try Self.password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
            defer {
                _ = try? SpikeExecutable.run(["dev", "down", "--dir", dir, "--purge"])
                unlink(passwordFile)
            }
            let up = try await spike(["dev", "up", "--dir", dir, "--admin-password-file", passwordFile, "--poll-interval", "1s"])
            #expect(up.status == 0, "\(up.output)")
            #expect(FileManager.default.fileExists(atPath: dir + "/env-recover") && FileManager.default.fileExists(atPath: dir + "/env-restore"))
            #expect(try await spike(["secret", "put", "drill/marker", "value=still-here"], env: "env").status == 0)

            // Everything is lost at once: the Nexus, the Keepers (and their shares), the agents.
            for name in ["nexus", "keeper-1", "keeper-2", "keeper-3", "agent-nexus", "agent-keeper", "agent-superuser", "agent-recover", "agent-restore"] {
                kill(try pid(name), SIGKILL)
            }
            try await Task.sleep(for: .milliseconds(300))
            let sealed = try await spike(["dev", "up", "--dir", dir, "--timeout", "4"])
            #expect(sealed.status != 0 && sealed.output.contains("every Keeper is empty") && sealed.output.contains("spike recover"),
                    "\(sealed.output)")

            // Wrong passwords are refused; the superuser may not recover at all.
            for attempt in 1...3 {
                let wrong = try await spike(["recover"], env: "env-recover", input: "not the password \(attempt)\n")
                #expect(wrong.status != 0 && wrong.output.contains("does not unwrap the root key"), "\(wrong.output)")
            }
            let superuser = try await spike(["recover"], env: "env", input: Self.password + "\n")
            #expect(superuser.status != 0 && superuser.output.contains("does not have the recover role"), "\(superuser.output)")
            #expect(try await spike(["secret", "get", "drill/marker", "value"], env: "env").output.contains("not ready"))

            // The right password restores; the marker reads back.
            let recovered = try await spike(["recover"], env: "env-recover", input: Self.password + "\n")
            #expect(recovered.status == 0 && recovered.output.contains("recovered"), "\(recovered.output)")
            #expect(!recovered.output.contains(Self.password))
            let marker = try await spike(["secret", "get", "drill/marker", "value"], env: "env")
            #expect(marker.status == 0 && marker.output.contains("still-here"), "\(marker.output)")
            let again = try await spike(["recover"], env: "env-recover", input: Self.password + "\n")
            #expect(again.status != 0 && again.output.contains("not sealed"), "\(again.output)")

            // The Nexus alone, SIGKILLed and started again, unseals from the Keepers it re-seeded.
            try await Task.sleep(for: .seconds(3))
            kill(try pid("nexus"), SIGKILL)
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await spike(["dev", "start", "--dir", dir, "nexus"]).status == 0)
            try await waitUntilReady(within: .seconds(15))
            #expect(try await spike(["secret", "get", "drill/marker", "value"], env: "env").output.contains("still-here"))
            #expect(try await spike(["dev", "down", "--dir", dir]).status == 0)

            // The log tells it: the failed attempts with their times, the restore by password, then
            // the restore from the Keepers; the password is in no log or file of the cluster.
            let log = try EventLog.open(directory: dir + "/nexus", options: { var o = EventLog.Options(); o.readOnly = true; return o }())
            defer { log.close() }
            let key = try LogKeyFile.readPrivateKey(at: dir + "/nexus/audit-key.pem")
            var events: [DomainEvent] = []
            _ = try log.replay(from: 1, through: nil, keyring: LogKeyring([key])) { view in
                if let event = try DomainEvent.decode(kind: view.kind, body: view.body) { events.append(event) }
            }
            let failures = events.compactMap { $0.payload as? RootKeyRestoreFailed }.filter { $0.source == .password }
            #expect(failures.count == 3 && failures.allSatisfy { $0.at != nil })
            let restores = events.compactMap { $0.payload as? RootKeyRestored }
            #expect(restores.map(\.source) == [.password, .keepers], "\(restores)")
            #expect(restores.first?.admin == "spiffe://spike.ist/spike/pilot/role/superuser")
            #expect(events.contains { $0.payload is RootKeyRestored && $0.actor == "spiffe://spike.ist/spike/pilot/role/recover" })
            let projection = try NexusProjections.replay(log, keyring: LogKeyring([key])).lifecycle
            #expect(projection.passwordFailures == 0, "a restore ends the run of failures")
            let files = FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? []
            for file in files {
                guard let data = FileManager.default.contents(atPath: dir + "/" + file) else { continue }
                #expect(data.range(of: Data(Self.password.utf8)) == nil, "the password is in \(file)")
            }
        }
    }
}
