import Foundation
import Projections

/// What a Keeper's answer to a poll (`POST /v1/store/shard`) means, decided here and nowhere
/// else so that every transport (and the simulator) sorts answers the same way. Never fails: an
/// answer is always an outcome.
public enum KeeperAnswer {
    /// How an exchange failed below HTTP.
    public enum TransportFailure: Equatable, Sendable {
        /// No connection (refused, no route, a bad URL).
        case unreachable(String)
        /// No answer within the limit.
        case timedOut(String)
        /// The TLS handshake was refused: the Keeper does not accept this Nexus' SVID, or its own
        /// SVID is not a Keeper's.
        case tlsRefused(String)
        /// The connection closed without a complete answer.
        case noResponse(String)
    }

    public static func classify(_ failure: TransportFailure) -> NexusLifecycle.PollResult {
        switch failure {
        case .unreachable(let why): .unreachable(why)
        case .timedOut(let limit): .unreachable("no answer within \(limit)")
        case .tlsRefused(let why): .refused(why)
        case .noResponse(let why): .error(why)
        }
    }

    private struct ShardAnswer: Decodable { var shard: [UInt8]? }
    private struct WitnessAnswer: Decodable { var head: LogWitness? }

    /// The log head the Keeper witnessed, if its answer carries one (SPIKE's Keepers never do).
    public static func witness(in body: [UInt8]) -> LogWitness? {
        guard body.count <= 64 << 10 else { return nil }
        return (try? JSONDecoder().decode(WitnessAnswer.self, from: Data(body)))?.head
    }

    /// An HTTP answer with `status` and `body`.
    public static func classify(status: Int, body: [UInt8]) -> NexusLifecycle.PollResult {
        let answer = try? JSONDecoder().decode(ShardAnswer.self, from: Data(body))
        switch status {
        case 200:
            guard let shard = answer?.shard else { return answer == nil ? .error("a 200 answer that is not a shard") : .empty }
            guard shard.count == 32 else { return .error("a shard of \(shard.count) bytes") }
            // An all-zero share is what an empty SPIKE Keeper holds.
            return shard.allSatisfy { $0 == 0 } ? .empty : .shard(shard)
        case 404:
            return .empty
        case 400 where answer != nil && answer?.shard == nil:
            // SPIKE's Keeper answers an empty state with 400 and a null shard.
            return .empty
        case 401, 403:
            return .refused("HTTP \(status): the Keeper does not accept this Nexus' SPIFFE ID")
        default:
            return .error("HTTP \(status)")
        }
    }
}
