import Foundation
import Testing
@testable import EventLog

/// The log writer's thread as a task executor (ADR-0027): a task that prefers it runs on that
/// thread, between batches, and its appends are committed there as it makes them, among the
/// appends other tasks queue; closing the log never leaves such a task waiting.
@Suite struct WriterExecutorTests {
    /// The kernel's name of the calling thread (Foundation names the writer's thread there).
    private static func threadName() -> String {
        ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test(arguments: StoreKind.allCases)
    func aTaskOnTheWritersThreadAppendsThereAmongOtherAppenders(_ kind: StoreKind) async throws {
        let t = try TestStore(kind)
        let store = t.store
        let executor = try #require(store.writerExecutor)
        async let others = withThrowingTaskGroup(of: [ClosedRange<UInt64>].self) { group in
            for writer in 0..<8 {
                group.addTask {
                    var mine: [ClosedRange<UInt64>] = []
                    for index in 0..<25 { mine.append(try await store.append([NewEvent(kind: 1, body: body("other \(writer)/\(index)"))])) }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let (onWriter, threads) = try await Task(executorPreference: executor) { () async throws -> ([ClosedRange<UInt64>], Set<String>) in
            var mine: [ClosedRange<UInt64>] = []
            var threads: Set<String> = [Self.threadName()]
            for index in 0..<100 {
                // Two events an append, as a batch of the Nexus' writes is: each must land in one piece.
                mine.append(try await store.append([NewEvent(kind: 2, body: body("writer \(index)")), NewEvent(kind: 2, body: body("writer \(index)b"))]))
                threads.insert(Self.threadName())
            }
            return (mine, threads)
        }.value
        let otherRanges = try await others
        // "spike-log-writer", cut to the kernel's 15 bytes: never a thread of the pool.
        #expect(threads == ["spike-log-write"])
        let sequences = (onWriter + otherRanges).flatMap { Array($0) }.sorted()
        #expect(sequences.count == 400 && Set(sequences).count == 400 && sequences.last! - sequences.first! == 399)
        #expect(onWriter.allSatisfy { $0.count == 2 })
        // The task's own appends in its order, each in one piece.
        #expect(zip(onWriter, onWriter.dropFirst()).allSatisfy { $0.upperBound < $1.lowerBound })
        try t.reopen()
        let stored = try texts(t.store, keyring: t.keyring)
        #expect(stored.filter { $0.hasPrefix("writer ") } == (0..<100).flatMap { ["writer \($0)", "writer \($0)b"] })
        #expect(stored.filter { $0.hasPrefix("other ") }.count == 200)
        #expect(t.store.verify(keyring: t.keyring).isIntact)
    }

    /// A task that closes the log from the writer's thread: `close` does not wait for the thread
    /// (it would wait for itself), what was appended stays, and the next append is refused.
    @Test func closingTheLogFromTheWritersThreadReturnsAndRefusesLaterAppends() async throws {
        let t = try TestStore(.lmdb)
        let store = t.store
        let executor = try #require(store.writerExecutor)
        let after = try await Task(executorPreference: executor) { () async throws -> LogError? in
            try await store.append([NewEvent(kind: 1, body: body("kept"))])
            store.close()
            do {
                try await store.append([NewEvent(kind: 1, body: body("refused"))])
                return nil
            } catch let error as LogError {
                return error
            }
        }.value
        #expect(after == .closed)
        try t.reopen()
        #expect(try texts(t.store, keyring: t.keyring) == ["kept"])
    }

    /// A task that prefers the writer of a log closed before it started still runs (elsewhere),
    /// and its append is refused as closed rather than left waiting for a thread that ended.
    @Test func aTaskPreferringAClosedWriterRunsAndItsAppendIsRefused() async throws {
        let t = try TestStore(.lmdb)
        let store = t.store
        let executor = try #require(store.writerExecutor)
        store.close()
        let outcome = await Task(executorPreference: executor) { () async -> LogError? in
            do {
                try await store.append([NewEvent(kind: 1, body: body("late"))])
                return nil
            } catch {
                return error as? LogError
            }
        }.value
        #expect(outcome == .closed)
    }
}
