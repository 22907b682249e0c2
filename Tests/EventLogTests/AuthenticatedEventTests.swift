import ChildProcesses
import Crypto
import Foundation
import Testing
@testable import EventLog

/// Authenticated event records (type 3): the body reads back as written, and the authenticator
/// is the key holder's, bound to the record's place in the log.
@Suite struct AuthenticatedEventTests {
    @Test func anAuthenticatedEventReadsBackWithItsAuthenticator() async throws {
        let t = try TestLog()
        let key = SymmetricKey(size: .bits256)
        let range = try await t.log.append([
            NewEvent(kind: 44, body: body("granted"), authenticationKey: key),
            NewEvent(kind: 46, body: body("plain")),
        ])
        let events = try t.log.reader(keyring: t.keyring).events(in: range)
        #expect(events.map { String(decoding: $0.body, as: UTF8.self) } == ["granted", "plain"])
        #expect(try t.log.rawRecord(at: range.lowerBound)[1] == RecordType.authenticatedEvent.rawValue)
        #expect(try t.log.rawRecord(at: range.upperBound)[1] == RecordType.event.rawValue)
        let authenticator = try #require(events[0].authenticator)
        #expect(authenticator.isValid(under: key))
        #expect(!authenticator.isValid(under: SymmetricKey(size: .bits256)))
        #expect(events[1].authenticator == nil)
        let report = t.log.verify(keyring: t.keyring)
        #expect(report.isIntact && report.eventsOpened == 2, "\(report)")
    }

    @Test func anAuthenticatorDoesNotFitAnotherPlaceInTheLog() async throws {
        let t = try TestLog()
        let key = SymmetricKey(size: .bits256)
        // The same body under the same key twice: what tells them apart is their headers.
        let range = try await t.log.append([NewEvent(kind: 44, body: body("same"), authenticationKey: key),
                                            NewEvent(kind: 44, body: body("same"), authenticationKey: key)])
        let events = try t.log.reader(keyring: t.keyring).events(in: range)
        let first = try #require(events[0].authenticator), second = try #require(events[1].authenticator)
        #expect(first.digest != second.digest)
        // The first record's tag moved onto the second record's place does not verify.
        #expect(!EventAuthenticator(digest: second.digest, tag: first.tag).isValid(under: key))
        #expect(first.isValid(under: key) && second.isValid(under: key))
    }

    @Test func replayDeliversAuthenticatorsAcrossParallelChunks() async throws {
        let t = try TestLog()
        let key = SymmetricKey(size: .bits256)
        // More than one chunk of the reader, so that the parallel path is the one checked.
        let count = Int(LogReader.chunkSize) * 2 + 5
        _ = try await t.log.append((0..<count).map { NewEvent(kind: 44, body: body("e\($0)"), authenticationKey: $0 % 3 == 0 ? key : nil) })
        var seen = 0
        try t.log.reader(keyring: t.keyring).replay { view in
            let index = seen
            #expect(String(decoding: view.body, as: UTF8.self) == "e\(index)")
            #expect((view.authenticator()?.isValid(under: key) ?? false) == (index % 3 == 0))
            seen += 1
        }
        #expect(seen == count)
    }
}

/// One writer per log directory, across processes.
@Suite struct WriterLockTests {
    @Test func aSecondWritableOpenIsRefusedAtOnce() async throws {
        let t = try TestLog()
        #expect {
            try t.reopen()
        } throws: { error in
            guard case LogError.writerLocked(let directory) = error else { return false }
            return directory == t.path && "\(error)".contains("open for writing by another process")
        }
        // Readers are never refused, and the writer goes on.
        #expect(try t.reopen(readOnly: true).head() == nil)
        try await t.log.append(kind: 1, body: body("still writing"))
        // Closing lets the next writer in.
        t.log.close()
        let next = try t.reopen()
        next.setRecipients([LogRecipient(t.key.publicKey)], epoch: 1)
        #expect(try await next.append(kind: 1, body: body("next")) == 4)
    }

    @Test func anotherProcessCannotOpenALogThatIsOpenForWriting() async throws {
        let t = try TestLog()
        try await t.log.append(kind: 1, body: body("held"))
        let child = productsDirectory.appendingPathComponent("LogCrashChild")
        try #require(FileManager.default.isExecutableFile(atPath: child.path), "build LogCrashChild first (swift build --build-tests)")
        let keyFile = t.directory.sub("recipient.pem")
        try LogKeyFile.pem(t.key.publicKey).write(toFile: keyFile, atomically: true, encoding: .utf8)
        let run = try ChildProcess.run(child.path, [t.path, keyFile, "1"])
        // Refused at open, at once, with the reason: not a crash, not a retry loop.
        #expect(run.termination == .exited(3))
        #expect(run.standardError.contains("is open for writing by another process"), "\(run.standardError)")
        #expect(try t.log.head()?.sequence == 2)
    }
}
