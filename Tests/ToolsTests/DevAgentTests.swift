import ChildProcesses
import Foundation
import Testing

/// `spike dev agent` and `spike dev fetch` as a user runs them: two real processes over the
/// Workload API on a Unix socket.
@Suite struct DevAgentTests {
    @Test func fetchGetsTheAgentsIdentity() async throws {
        let dir = NSTemporaryDirectory() + "spike-dev-agent-\(UUID().uuidString)"
        let socket = "/tmp/spk-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer {
            try? FileManager.default.removeItem(atPath: dir)
            unlink(socket)
        }
        #expect(try SpikeExecutable.run(["dev", "ca", "init", "--dir", dir + "/ca"]).status == 0)
        let agentOutput = Pipe()
        let agent = try ChildProcess(
            executable: SpikeExecutable.url.path,
            arguments: ["dev", "agent", "--ca", dir + "/ca", "--socket", socket, "--id", "spiffe://spike.ist/spike/pilot/role/superuser"],
            standardOutput: .descriptor(agentOutput.fileHandleForWriting.fileDescriptor))
        try agentOutput.fileHandleForWriting.close()
        defer {
            agent.send(SIGKILL)
            agent.wait()
        }
        let first = agentOutput.fileHandleForReading.availableData
        #expect(String(decoding: first, as: UTF8.self).hasPrefix("listening on unix://\(socket)"))

        let fetched = try SpikeExecutable.run(["dev", "fetch", "--write", dir + "/fetched"], environment: ["SPIFFE_ENDPOINT_SOCKET": "unix://\(socket)"])
        #expect(fetched.status == 0, "\(fetched.output)")
        #expect(fetched.output.contains("SPIFFE ID:     spiffe://spike.ist/spike/pilot/role/superuser"))
        let key = try FileManager.default.attributesOfItem(atPath: dir + "/fetched/svid.key")[.posixPermissions] as? NSNumber
        #expect(key?.intValue == 0o600)

        let missing = try SpikeExecutable.run(["dev", "fetch", "--socket", "unix:///tmp/spk-missing-\(UUID().uuidString.prefix(6)).sock", "--timeout", "1"])
        #expect(missing.status == 1 && missing.output.contains("is the agent running?"))
    }
}
