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
        static let password = "violet kettle on a tuesday"

        func spike(_ arguments: [String], env file: String? = nil, input: String = "",
                   adding extra: [String: String] = [:]) async throws -> (status: Int32, output: String) {
            let environment = try file.map { try LocalClusters.exports(at: dir + "/" + $0) } ?? [:]
            return try await SpikeExecutable.running(arguments, environment: environment.merging(extra) { $1 }, input: input)
        }

        func events() throws -> [DomainEvent] { try LocalClusters.events(ofCluster: dir) }

        func killEverything() async throws {
            for name in ["nexus", "keeper-1", "keeper-2", "keeper-3", "agent-nexus", "agent-keeper", "agent-superuser", "agent-recover", "agent-restore"] {
                kill(try pid(name), SIGKILL)
            }
            try await Task.sleep(for: .milliseconds(300))
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
            try await killEverything()
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
            let events = try events()
            let failures = events.compactMap { $0.payload as? RootKeyRestoreFailed }.filter { $0.source == .password }
            #expect(failures.count == 3 && failures.allSatisfy { $0.at != nil })
            let restores = events.compactMap { $0.payload as? RootKeyRestored }
            #expect(restores.map(\.source) == [.password, .keepers], "\(restores)")
            #expect(restores.first?.admin == "spiffe://spike.ist/spike/pilot/role/superuser")
            #expect(events.contains { $0.payload is RootKeyRestored && $0.actor == "spiffe://spike.ist/spike/pilot/role/recover" })
            let log = try EventLog.open(directory: dir + "/nexus", options: { var o = EventLog.Options(); o.readOnly = true; return o }())
            defer { log.close() }
            let projection = try NexusProjections.replay(log, keyring: LogKeyring([try LogKeyFile.readPrivateKey(at: dir + "/nexus/audit-key.pem")])).lifecycle
            #expect(projection.passwordFailures == 0, "a restore ends the run of failures")
            let files = FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? []
            for file in files {
                guard let data = FileManager.default.contents(atPath: dir + "/" + file) else { continue }
                #expect(data.range(of: Data(Self.password.utf8)) == nil, "the password is in \(file)")
            }
        }

        /// SPIKE's break-the-glass drill: shard files exported while healthy, every process lost,
        /// one shard per `spike operator restore`, SPIKE's messages and arithmetic, the marker back.
        @Test func everyProcessLostThenRecoveryShardsRestoreTheSystem() async throws {
            let passwordFile = dir + "-password"
            try Self.password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
            let shards = dir + "-shards"
            defer {
                _ = try? SpikeExecutable.run(["dev", "down", "--dir", dir, "--purge"])
                unlink(passwordFile)
                try? FileManager.default.removeItem(atPath: shards)
            }
            let up = try await spike(["dev", "up", "--dir", dir, "--admin-password-file", passwordFile, "--poll-interval", "1s"])
            #expect(up.status == 0, "\(up.output)")
            #expect(try await spike(["secret", "put", "drill/marker", "value=from-shards"], env: "env").status == 0)
            // A second admin, for the record (`list` shows names and dates, no wrap).
            #expect(try await spike(["admin", "password", "add", "alice"], env: "env", input: "alice's long password\n").status == 0)
            let admins = try await spike(["admin", "password", "list"], env: "env")
            #expect(admins.status == 0 && admins.output.contains("alice\t20") && admins.output.contains("role/superuser\t20"), "\(admins.output)")

            // Only the recover role exports; the files are SPIKE's, 0600, in SPIKE_PILOT_RECOVERY_DIR/recover.
            let refused = try await spike(["operator", "recover"], env: "env", adding: ["SPIKE_PILOT_RECOVERY_DIR": shards])
            #expect(refused.status != 0 && refused.output.contains("does not have the recover role"), "\(refused.output)")
            try FileManager.default.createDirectory(atPath: shards + "/recover", withIntermediateDirectories: true)
            try "stale".write(toFile: shards + "/recover/spike.recovery.9.txt", atomically: true, encoding: .utf8)
            let exported = try await spike(["operator", "recover"], env: "env-recover", adding: ["SPIKE_PILOT_RECOVERY_DIR": shards])
            #expect(exported.status == 0 && exported.output.contains("You encrypt these shards"), "\(exported.output)")
            let names = try FileManager.default.contentsOfDirectory(atPath: shards + "/recover").sorted()
            #expect(names == ["spike.recovery.1.txt", "spike.recovery.2.txt", "spike.recovery.3.txt"])
            var texts: [String] = []
            for name in names {
                let path = shards + "/recover/" + name
                let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(name) has mode \(String(mode ?? 0, radix: 8))")
                let text = try String(contentsOfFile: path, encoding: .utf8)
                #expect(text.wholeMatch(of: /spike:[1-3]:[0-9a-f]{64}/) != nil && text.hasPrefix("spike:\(name.dropFirst(15).prefix(1)):"))
                texts.append(text)
            }
            #expect(!exported.output.contains(texts[0].suffix(64)), "the shards are in the files only")

            try await killEverything()
            let sealed = try await spike(["dev", "up", "--dir", dir, "--timeout", "4"])
            #expect(sealed.status != 0 && sealed.output.contains("every Keeper is empty"), "\(sealed.output)")

            // SPIKE's parse errors, before anything is sent.
            let short = try await spike(["operator", "restore"], env: "env-restore", input: "spike:1:abc\n")
            #expect(short.status != 0 && short.output.contains("Invalid hex shard length: 3 (expected 64)."), "\(short.output)")
            let shapeless = try await spike(["operator", "restore"], env: "env-restore", input: "not a shard\n")
            #expect(shapeless.status != 0 && shapeless.output.contains("Invalid shard format"), "\(shapeless.output)")
            let wrongRole = try await spike(["operator", "restore"], env: "env", input: texts[0])
            #expect(wrongRole.status != 0 && wrongRole.output.contains("does not have the restore role"), "\(wrongRole.output)")
            // One shard at a time: SPIKE's arithmetic, then restored.
            let firstShard = try await spike(["operator", "restore"], env: "env-restore", input: "  " + texts[0] + "\n")
            #expect(firstShard.status == 0 && firstShard.output.contains("Shards collected:  1")
                    && firstShard.output.contains("Shards remaining:  1"), "\(firstShard.output)")
            let last = try await spike(["operator", "restore"], env: "env-restore", input: texts[2])
            #expect(last.status == 0 && last.output.contains("SPIKE is now restored and ready to use."), "\(last.output)")
            let marker = try await spike(["secret", "get", "drill/marker", "value"], env: "env")
            #expect(marker.status == 0 && marker.output.contains("from-shards"), "\(marker.output)")
            let again = try await spike(["operator", "restore"], env: "env-restore", input: texts[1])
            #expect(again.status != 0 && again.output.contains("not sealed"), "\(again.output)")
            #expect(try await spike(["dev", "down", "--dir", dir]).status == 0)

            let events = try events()
            #expect(events.contains { $0.payload is RecoveryShardsExported && $0.actor == "spiffe://spike.ist/spike/pilot/role/recover" })
            let restored = events.compactMap { $0.payload as? RootKeyRestored }.filter { $0.source == .shards }
            #expect(restored.map(\.shareIndices) == [[1, 3]], "\(restored)")
            #expect(events.contains { ($0.payload as? AdminPasswordAdded)?.wrap.admin == "alice" })
        }
    }
}

extension LocalClusters.RecoveryDrillTests {
    /// `spike dev drill` as a user runs it: every step reported, the history found in the log.
    @Test func theDrillCommandRehearsesEveryWayBack() async throws {
        let passwordFile = dir + "-password"
        try Self.password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        defer {
            _ = try? SpikeExecutable.run(["dev", "down", "--dir", dir, "--purge"])
            unlink(passwordFile)
        }
        #expect(try await spike(["dev", "up", "--dir", dir, "--admin-password-file", passwordFile, "--poll-interval", "1s"]).status == 0)
        let unconfirmed = try await spike(["dev", "drill", "--dir", dir, "--admin-password-file", passwordFile])
        #expect(unconfirmed.status != 0 && unconfirmed.output.contains("the drill ends with a reset"), "\(unconfirmed.output)")
        let drill = try await spike(["dev", "drill", "--dir", dir, "--admin-password-file", passwordFile, "--yes"])
        #expect(drill.status == 0 && drill.output.contains("drill passed"), "\(drill.output)")
        let steps = drill.output.split(separator: "\n").filter { $0.hasPrefix("• ") }
        #expect(steps.count == 21 && steps.allSatisfy { $0.contains(" … ok") }, "\(steps)")
        #expect(drill.output.contains("wrong password 3 is refused … ok: refused as it should be: the password does not unwrap"))
        #expect(drill.output.contains("the audit report names what happened, in order … ok: the audit report names the drill's 11 incidents in order"),
                "\(drill.output)")
        // The same report from the command line, after the drill: the reset is its last finding of the drill.
        let audit = try await spike(["log", "audit", "--data-dir", dir + "/nexus"])
        #expect(audit.status == 0 && audit.output.contains("3 wrong passwords between") && audit.output.contains("\"spike dev drill\""),
                "\(audit.output)")
        #expect(!drill.output.contains(Self.password))
        // The cluster runs the new epoch afterwards.
        let marker = try await spike(["secret", "get", "drill/marker", "value"], env: "env")
        #expect(marker.status == 0 && marker.output.contains("after-the-reset"), "\(marker.output)")
    }
}
