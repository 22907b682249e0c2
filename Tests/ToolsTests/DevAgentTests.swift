import Foundation
import Testing

/// `spike dev agent` and `spike dev fetch` as a user runs them: two real processes over the
/// Workload API on a Unix socket.
@Suite struct DevAgentTests {
    var spike: URL { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("spike") }

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = spike
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func fetchGetsTheAgentsIdentity() async throws {
        let dir = NSTemporaryDirectory() + "spike-dev-agent-\(UUID().uuidString)"
        let socket = "/tmp/spk-\(UInt32.random(in: 0...UInt32.max)).sock"
        defer {
            try? FileManager.default.removeItem(atPath: dir)
            unlink(socket)
        }
        #expect(try run(["dev", "ca", "init", "--dir", dir + "/ca"]).status == 0)
        let agent = Process()
        agent.executableURL = spike
        agent.arguments = ["dev", "agent", "--ca", dir + "/ca", "--socket", socket, "--id", "spiffe://spike.ist/spike/pilot/role/superuser"]
        let agentOutput = Pipe()
        agent.standardOutput = agentOutput
        try agent.run()
        defer {
            kill(agent.processIdentifier, SIGKILL)
            agent.waitUntilExit()
        }
        let first = agentOutput.fileHandleForReading.availableData
        #expect(String(decoding: first, as: UTF8.self).hasPrefix("listening on unix://\(socket)"))

        let fetched = try run(["dev", "fetch", "--write", dir + "/fetched"], environment: ["SPIFFE_ENDPOINT_SOCKET": "unix://\(socket)"])
        #expect(fetched.status == 0, "\(fetched.output)")
        #expect(fetched.output.contains("SPIFFE ID:     spiffe://spike.ist/spike/pilot/role/superuser"))
        let key = try FileManager.default.attributesOfItem(atPath: dir + "/fetched/svid.key")[.posixPermissions] as? NSNumber
        #expect(key?.intValue == 0o600)

        let missing = try run(["dev", "fetch", "--socket", "unix:///tmp/spk-missing-\(UUID().uuidString.prefix(6)).sock", "--timeout", "1"])
        #expect(missing.status == 1 && missing.output.contains("is the agent running?"))
    }
}
