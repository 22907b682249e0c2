import ChildProcesses
import Crypto
import Foundation
import Synchronization
import Testing
@testable import EventLog

/// A real child process appends in a loop and prints each acknowledged sequence; it is killed
/// with SIGKILL at random moments, many times over the same log. After each kill the log must
/// open for appending, verify end to end, and hold every acknowledged sequence.
@Suite struct CrashSafetyTests {
    @Test func sigkillNeverLosesAnAcknowledgedAppend() async throws {
        let directory = TemporaryDirectory("spike-crash")
        let key = Curve25519.KeyAgreement.PrivateKey()
        let publicKeyFile = directory.sub("recipient.pub")
        try LogKeyFile.pem(key.publicKey).write(toFile: publicKeyFile, atomically: true, encoding: .utf8)
        let logPath = directory.sub("log")
        let child = productsDirectory.appendingPathComponent("LogCrashChild")
        try #require(FileManager.default.isExecutableFile(atPath: child.path), "build LogCrashChild first (swift build --build-tests)")

        var allAcknowledged: Set<UInt64> = []
        var seed = SystemRandomNumberGenerator()
        let rounds = 12
        for round in 0..<rounds {
            let delay = Int.random(in: 0...300, using: &seed)
            let acknowledged = try await runAndKill(child, arguments: [logPath, publicKeyFile, "6"], afterMilliseconds: delay)
            #expect(!acknowledged.isEmpty, "round \(round): the child acknowledged nothing in \(delay) ms")
            allAcknowledged.formUnion(acknowledged)

            // A writable open checks the tail against the committed head.
            let log = try EventLog.open(directory: logPath)
            let report = log.verify(keyring: LogKeyring([key]))
            #expect(report.isIntact, "round \(round) (kill after \(delay) ms): \(report)")
            let head = try #require(try log.head()).sequence
            let missing = allAcknowledged.filter { $0 > head }
            #expect(missing.isEmpty, "round \(round): acknowledged but lost: \(missing.sorted().prefix(10))")
            log.close()
        }
        // Every acknowledged event reads back as what the child wrote.
        var options = EventLog.Options()
        options.readOnly = true
        let log = try EventLog.open(directory: logPath, options: options)
        let events = try log.reader(keyring: LogKeyring([key])).events(in: 1...(try log.head()!.sequence))
        let sequences = Set(events.map(\.sequence))
        #expect(allAcknowledged.isSubset(of: sequences))
        #expect(events.allSatisfy { String(decoding: $0.body.prefix(9), as: UTF8.self) == "appender " })
        #expect(allAcknowledged.count > 100, "too few appends to mean anything: \(allAcknowledged.count)")
    }

    /// Starts the child, waits for its first acknowledged append, lets it run for the delay,
    /// kills it with SIGKILL and returns the sequences it acknowledged.
    private func runAndKill(_ executable: URL, arguments: [String], afterMilliseconds delay: Int) async throws -> Set<UInt64> {
        let output = Pipe()
        let process = try ChildProcess(executable: executable.path, arguments: arguments,
                                       standardOutput: .descriptor(output.fileHandleForWriting.fileDescriptor))
        // The child holds the only write end: the reader sees the end of the pipe when it dies.
        try output.fileHandleForWriting.close()
        let collected = OutputCollector()
        let reader = Task.detached {
            while true {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { return }
                collected.append(data)
            }
        }
        let deadline = ContinuousClock.now + .seconds(30)
        // The random delay starts at the first acknowledgement, so every round kills the child in
        // the middle of appending, however slowly it started on a loaded machine.
        while !collected.text.contains("ack ") {
            try #require(ContinuousClock.now < deadline && process.isRunning, "the child acknowledged nothing in 30 s")
            try await Task.sleep(for: .milliseconds(2))
        }
        try await Task.sleep(for: .milliseconds(delay))
        process.send(SIGKILL)
        #expect(process.wait() == .signaled(SIGKILL))
        await reader.value
        var acknowledged: Set<UInt64> = []
        // A line cut by the kill has no newline and is ignored.
        for line in collected.text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            if line.hasPrefix("ack "), let sequence = UInt64(line.dropFirst(4)) { acknowledged.insert(sequence) }
        }
        return acknowledged
    }
}

/// What a child printed so far, appended by a reader task and read by the test.
private final class OutputCollector: Sendable {
    private let data = Mutex(Data())
    func append(_ chunk: Data) { data.withLock { $0.append(chunk) } }
    var text: String { data.withLock { String(decoding: $0, as: UTF8.self) } }
}
