import EventLog
import Foundation
import NexusCore
import Projections
import Testing

/// The witness check on a log of links made up for the test: what is a rollback, what is not,
/// and what proves nothing.
@Suite struct LogWitnessCheckTests {
    let logID = LogID(bytes: Array(1...16))!
    let rootKey = try! RootKey(bytes: Array(repeating: 7, count: 32))
    /// Record n's link: n repeated.
    func link(_ sequence: UInt64) -> ChainHash { ChainHash(bytes: Array(repeating: UInt8(sequence % 251), count: 32))! }
    func head(_ sequence: UInt64) -> ChainHead { ChainHead(sequence: sequence, hash: link(sequence)) }
    func witness(_ sequence: UInt64, key: RootKey? = nil, epoch: UInt32 = 1) -> LogWitness {
        LogWitness(head: head(sequence), logID: logID, epoch: epoch, rootKey: key ?? rootKey)
    }

    func check(_ witnesses: [Int: LogWitness], logHead: UInt64, links: (UInt64) -> ChainHash? = { _ in nil })
        -> (verdict: LogWitnessCheck.Verdict, unverifiable: [Int]) {
        LogWitnessCheck.check(witnesses, logID: logID, rootKey: rootKey, epoch: 1, head: head(logHead), at: 5) { sequence in
            sequence <= logHead ? links(sequence) : nil
        }
    }

    @Test func aHeadThisLogHadIsConsistent() {
        let result = check([1: witness(10), 2: witness(12)], logHead: 12, links: link)
        #expect(result.verdict == .consistent && result.unverifiable.isEmpty)
        #expect(check([:], logHead: 3).verdict == .consistent)
    }

    @Test func aLogThatEndsBeforeTheWitnessIsBehindAndTheFurthestWitnessIsReported() {
        guard case .rolledBack(let finding) = check([1: witness(10), 3: witness(15)], logHead: 12, links: link).verdict else {
            Issue.record("not a rollback")
            return
        }
        #expect(finding.finding == .behind && finding.keeper == 3 && finding.witnessedSequence == 15 && finding.logSequence == 12)
        #expect(finding.witnessedLink == witness(15).linkHex && finding.summary.hasPrefix("log_rollback: the log ends at 12"))
    }

    @Test func anotherRecordAtTheWitnessedSequenceHasDiverged() {
        let other = { (sequence: UInt64) in ChainHash(bytes: Array(repeating: 0xEE, count: 32)) }
        guard case .rolledBack(let finding) = check([2: witness(10)], logHead: 20, links: other).verdict else {
            Issue.record("not a rollback")
            return
        }
        #expect(finding.finding == .diverged && finding.keeper == 2 && finding.logSequence == 20 && finding.witnessedSequence == 10)
    }

    @Test func aWitnessTheRootKeyDoesNotAuthenticateProvesNothing() {
        var forged = witness(99)
        forged.mac = Data(repeating: 0, count: 32)
        let result = check([1: forged, 2: witness(99, key: RootKey.generate()), 3: witness(99, epoch: 2), 4: witness(5)], logHead: 8, links: link)
        #expect(result.verdict == .consistent && result.unverifiable == [1, 2, 3])
        // Moving a witness to another log, sequence or link breaks its MAC.
        var moved = witness(5)
        moved.sequence = 50
        #expect(!moved.isAuthentic(logID: logID, rootKey: rootKey, epoch: 1))
        #expect(!witness(5).isAuthentic(logID: LogID(bytes: Array(repeating: 9, count: 16))!, rootKey: rootKey, epoch: 1))
    }
}
