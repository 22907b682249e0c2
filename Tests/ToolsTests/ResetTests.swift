import EventLog
import Foundation
import Projections
import Testing

extension LocalClusters {
    /// `spike reset` on a dev cluster's Nexus directory, with real processes: refused while the
    /// Nexus runs and without a confirmation; then the epoch is closed, a new `spike init` opens the
    /// next one, the old secrets are gone for good, and the whole history is still in the log.
    @Suite(.serialized) struct ResetTests {
        let dir = "/tmp/spk-reset-\(UInt32.random(in: 0...UInt32.max))"

        func spike(_ arguments: [String], env: Bool = false) async throws -> (status: Int32, output: String) {
            try await SpikeExecutable.running(arguments, environment: env ? try LocalClusters.exports(at: dir + "/env") : [:])
        }

        @Test func aResetStartsOverAndKeepsTheHistory() async throws {
            let (first, second) = (dir + "-password-1", dir + "-password-2")
            try "first admin password".write(toFile: first, atomically: true, encoding: .utf8)
            try "second admin password".write(toFile: second, atomically: true, encoding: .utf8)
            defer {
                _ = try? SpikeExecutable.run(["dev", "down", "--dir", dir, "--purge"])
                unlink(first)
                unlink(second)
            }
            let nexus = dir + "/nexus"
            #expect(try await spike(["dev", "up", "--dir", dir, "--admin-password-file", first, "--poll-interval", "1s"]).status == 0)
            #expect(try await spike(["secret", "put", "old/marker", "value=before-the-reset"], env: true).status == 0)
            let running = try await spike(["reset", "--data-dir", nexus, "--yes"])
            #expect(running.status != 0 && running.output.contains("a Nexus is running"), "\(running.output)")
            #expect(try await spike(["dev", "down", "--dir", dir]).status == 0)
            let unconfirmed = try await spike(["reset", "--data-dir", nexus])
            #expect(unconfirmed.status != 0 && unconfirmed.output.contains("confirm on a terminal, or pass --yes"), "\(unconfirmed.output)")
            let reset = try await spike(["reset", "--data-dir", nexus, "--yes", "--reason", "drill: the root key is lost"])
            #expect(reset.status == 0 && reset.output.contains("epoch 1 is closed"), "\(reset.output)")
            let again = try await spike(["reset", "--data-dir", nexus, "--yes"])
            #expect(again.status != 0 && again.output.contains("nothing to reset"), "\(again.output)")

            // A new epoch with a new password; the old secret is gone, new ones work.
            let up = try await spike(["dev", "up", "--dir", dir, "--admin-password-file", second, "--poll-interval", "1s"])
            #expect(up.status == 0, "\(up.output)")
            let gone = try await spike(["secret", "get", "old/marker", "value"], env: true)
            #expect(gone.status != 0 && gone.output.contains("not found"), "\(gone.output)")
            #expect(try await spike(["secret", "put", "new/marker", "value=after"], env: true).status == 0)
            #expect(try await spike(["secret", "get", "new/marker", "value"], env: true).output.contains("after"))
            #expect(try await spike(["dev", "down", "--dir", dir]).status == 0)

            // The history: the first epoch's events, the reset (who, why), the second genesis; the
            // first epoch's version keys are gone from the key table.
            let log = try EventLog.open(directory: nexus, options: { var o = EventLog.Options(); o.readOnly = true; return o }())
            defer { log.close() }
            let key = try LogKeyFile.readPrivateKey(at: nexus + "/audit-key.pem")
            var events: [DomainEvent] = []
            _ = try log.replay(from: 1, through: nil, keyring: LogKeyring([key])) { view in
                if let event = try DomainEvent.decode(kind: view.kind, body: view.body) { events.append(event) }
            }
            #expect(events.compactMap { ($0.payload as? EpochStarted)?.epoch } == [1, 2])
            let resetIndex = try #require(events.firstIndex { $0.payload is SystemReset })
            let resetEvent = try #require(events[resetIndex].payload as? SystemReset)
            #expect(resetEvent.epoch == 1 && resetEvent.reason == "drill: the root key is lost" && events[resetIndex].actor.hasPrefix("host:"))
            #expect(events[..<resetIndex].contains { $0.payload is SecretPut }, "the first epoch's writes are still in the log")
            #expect(events[resetIndex...].filter { $0.payload is SecretPut }.count == 1)
            #expect(try log.keyTable().count == 1, "only the new epoch's version key is left")
        }

        @Test func aWipeDeletesTheLogAndSaysWhat() async throws {
            let password = dir + "-password"
            try "wiped admin password".write(toFile: password, atomically: true, encoding: .utf8)
            defer {
                _ = try? SpikeExecutable.run(["dev", "down", "--dir", dir, "--purge"])
                unlink(password)
            }
            let nexus = dir + "/nexus"
            #expect(try await spike(["dev", "up", "--dir", dir, "--admin-password-file", password, "--poll-interval", "1s"]).status == 0)
            #expect(try await spike(["secret", "put", "old/marker", "value=wiped"], env: true).status == 0)
            let running = try await spike(["reset", "--data-dir", nexus, "--wipe", "--yes"])
            #expect(running.status != 0 && running.output.contains("a Nexus is running"), "\(running.output)")
            #expect(FileManager.default.fileExists(atPath: nexus + "/data.mdb"))
            #expect(try await spike(["dev", "down", "--dir", dir]).status == 0)
            let unconfirmed = try await spike(["reset", "--data-dir", nexus, "--wipe"])
            #expect(unconfirmed.status != 0 && unconfirmed.output.contains("--wipe deletes the log in \(nexus)"), "\(unconfirmed.output)")
            #expect(FileManager.default.fileExists(atPath: nexus + "/data.mdb"))
            let wiped = try await spike(["reset", "--data-dir", nexus, "--wipe", "--yes"])
            #expect(wiped.status == 0 && wiped.output.contains("wiped: deleted the log") && wiped.output.contains("data.mdb, lock.mdb"), "\(wiped.output)")
            for file in ["data.mdb", "lock.mdb", "audit-key.pem"] { #expect(!FileManager.default.fileExists(atPath: nexus + "/" + file), "\(file)") }
            // Day zero again: a new log, a new initialization, the old secret never existed.
            let up = try await spike(["dev", "up", "--dir", dir, "--admin-password-file", password, "--poll-interval", "1s"])
            #expect(up.status == 0, "\(up.output)")
            let gone = try await spike(["secret", "get", "old/marker", "value"], env: true)
            #expect(gone.status != 0 && gone.output.contains("not found"), "\(gone.output)")
            #expect(try await spike(["dev", "down", "--dir", dir]).status == 0)
            let kinds = try LocalClusters.events(ofCluster: dir).map(\.kind.name)
            #expect(!kinds.contains("SystemReset") && !kinds.contains("SecretPut") && kinds.filter { $0 == "EpochStarted" }.count == 1, "\(kinds)")
        }
    }
}
