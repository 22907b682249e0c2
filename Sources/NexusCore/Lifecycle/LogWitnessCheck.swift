import EventLog
import Foundation
import Projections

/// Whether the log a Nexus came back on is the one its Keepers witnessed (DESIGN §3): each
/// witness that the root key authenticates is a head this log once had, so the log must reach
/// its sequence and hold the same record there. Pure: the log is asked for links through `link`.
public enum LogWitnessCheck {
    public enum Verdict: Equatable, Sendable {
        /// Every authentic witness is a head of this log (or there were none).
        case consistent
        /// The first witness the log contradicts, as the event to record.
        case rolledBack(RollbackDetected)
    }

    /// Checks `witnesses` (by Keeper) against a log with head `head`. Witnesses that the root key
    /// of `epoch` does not authenticate (another epoch's, a rotation's predecessor's, or made by
    /// someone without R) prove nothing and are returned in `unverifiable`; the witness furthest
    /// ahead is checked first, so a rollback is reported against the newest head anyone saw.
    public static func check(
        _ witnesses: [Int: LogWitness], logID: LogID, rootKey: RootKey, epoch: UInt32, head: ChainHead, at time: Int64,
        link: (UInt64) throws -> ChainHash?
    ) rethrows -> (verdict: Verdict, unverifiable: [Int]) {
        var unverifiable: [Int] = []
        let authentic = witnesses.filter { keeper, witness in
            let ok = witness.isAuthentic(logID: logID, rootKey: rootKey, epoch: epoch)
            if !ok { unverifiable.append(keeper) }
            return ok
        }
        for (keeper, witness) in authentic.sorted(by: { ($0.value.sequence, $1.key) > ($1.value.sequence, $0.key) }) {
            let witnessedLink = witness.linkHex
            func finding(_ kind: RollbackDetected.Finding) -> Verdict {
                .rolledBack(RollbackDetected(finding: kind, keeper: keeper, logSequence: head.sequence, logLink: head.hash.description,
                                             witnessedSequence: witness.sequence, witnessedLink: witnessedLink, at: time))
            }
            if witness.sequence > head.sequence { return (finding(.behind), unverifiable.sorted()) }
            guard let ours = try link(witness.sequence), ours.bytes == Array(witness.link) else {
                return (finding(.diverged), unverifiable.sorted())
            }
        }
        return (.consistent, unverifiable.sorted())
    }
}
