import EventLog
import Foundation
import Projections
import Testing

extension LocalClusters {
    /// Issue 11's crash test of a rotation, with real processes: the Nexus SIGKILLs itself at each
    /// step of `spike operator rotate` (a failpoint armed in its environment), is started again,
    /// and must unseal with the old key (killed before the commit) or the new one (after it),
    /// the marker secret intact, and the rotation completed once its Keepers hold the new shares.
    @Suite(.serialized) struct RotationCrashTests {
        let dir = "/tmp/spk-rotate-\(UInt32.random(in: 0...UInt32.max))"

        func spike(_ arguments: [String], env: Bool = false) async throws -> (status: Int32, output: String) {
            try await SpikeExecutable.running(arguments, environment: env ? try LocalClusters.exports(at: dir + "/env") : [:])
        }

        /// Sets (or clears) the Nexus' failpoint in the launch description `spike dev start` uses.
        func arm(_ failpoint: String?) throws {
            let path = dir + "/run/nexus.json"
            var component = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            var environment = component["environment"] as? [String: String] ?? [:]
            environment["SPIKE_NEXUS_FAILPOINT"] = failpoint
            component["environment"] = environment
            try JSONSerialization.data(withJSONObject: component).write(to: URL(fileURLWithPath: path))
        }

        func restartNexus() async throws {
            if let text = try? String(contentsOfFile: dir + "/run/nexus.pid", encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                kill(pid, SIGKILL)
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(try await spike(["dev", "start", "--dir", dir, "nexus"]).status == 0)
            let deadline = ContinuousClock.now + .seconds(30)
            while try await spike(["dev", "status", "--dir", dir]).status != 0 {
                guard ContinuousClock.now < deadline else {
                    Issue.record("the Nexus was not ready in 30 s: \(try await spike(["dev", "status", "--dir", dir]).output)")
                    throw CancellationError()
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }

        func events() throws -> [DomainEvent] { try LocalClusters.events(ofCluster: dir) }

        @Test(.serialized, arguments: ["rotation-before-commit", "rotation-after-commit", "rotation-before-completion"])
        func aNexusKilledAtAStepOfARotationUnsealsWithTheOldOrTheNewKey(_ failpoint: String) async throws {
            let passwordFile = dir + "-password"
            try "rotation admin password".write(toFile: passwordFile, atomically: true, encoding: .utf8)
            defer {
                _ = try? SpikeExecutable.run(["dev", "down", "--dir", dir, "--purge"])
                unlink(passwordFile)
            }
            #expect(try await spike(["dev", "up", "--dir", dir, "--admin-password-file", passwordFile, "--poll-interval", "1s"]).status == 0)
            #expect(try await spike(["secret", "put", "rotation/marker", "value=kept"], env: true).status == 0)
            try arm(failpoint)
            try await restartNexus()
            let rotate = try await spike(["operator", "rotate"], env: true)
            if failpoint == "rotation-before-completion" {
                // Answered at the commit; the Nexus dies once its Keepers confirm the new shares.
                #expect(rotate.status == 0, "\(rotate.output)")
                let pid = pid_t(try String(contentsOfFile: dir + "/run/nexus.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
                let deadline = ContinuousClock.now + .seconds(15)
                while kill(pid, 0) == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
                #expect(kill(pid, 0) != 0, "the Nexus reached the completion and died there")
                #expect(try !events().contains { $0.payload is RootKeyRotationCompleted })
            } else {
                #expect(rotate.status != 0, "the Nexus died at \(failpoint): \(rotate.output)")
            }
            try arm(nil)
            try await restartNexus()
            let marker = try await spike(["secret", "get", "rotation/marker", "value"], env: true)
            #expect(marker.status == 0 && marker.output.contains("kept"), "\(marker.output)")
            // Before the commit nothing happened: the old key goes on, and a rotation works now.
            if failpoint == "rotation-before-commit" {
                #expect(try !events().contains { $0.payload is RootKeyRotated })
                let again = try await spike(["operator", "rotate"], env: true)
                #expect(again.status == 0 && again.output.contains("epoch 2"), "\(again.output)")
            }
            // The rotation completes once the Keepers hold the new shares, whatever step it died at.
            let deadline = ContinuousClock.now + .seconds(20)
            while try !events().contains(where: { $0.payload is RootKeyRotationCompleted }), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
            }
            let events = try events()
            #expect(events.filter { $0.payload is RootKeyRotated }.count == 1)
            #expect(events.contains { $0.payload is RootKeyRotationCompleted }, "\(events.map(\.kind.name).suffix(12))")
            let restored = events.compactMap { $0.payload as? RootKeyRestored }.last
            #expect(restored?.source == .keepers)
            #expect(try await spike(["secret", "get", "rotation/marker", "value"], env: true).output.contains("kept"))
            // A last restart unseals from the Keepers' new shares alone.
            try await restartNexus()
            #expect(try await spike(["secret", "get", "rotation/marker", "value"], env: true).output.contains("kept"))
        }
    }
}
