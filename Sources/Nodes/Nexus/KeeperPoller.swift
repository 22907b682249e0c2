import Foundation
import NexusCore
import Projections
import NIOHTTP1
import SecretSharing
import SpikeClient

/// Asks Keepers for their shares and gives shares to them, over the Nexus' mutual-TLS client;
/// `KeeperAnswer` sorts every answer into a `PollResult`.
public struct KeeperPoller: Sendable {
    public let client: HTTPClient

    public init(client: HTTPClient) {
        self.client = client
    }

    /// Asks for the share, handing over `head` to witness (when the Nexus has one to give); the
    /// answer's outcome and the head the Keeper holds.
    public func poll(_ keeperURL: String, head: LogWitness? = nil) async -> (NexusLifecycle.PollResult, LogWitness?) {
        do {
            let body = head.flatMap { try? JSONEncoder().encode(ShardRequest(head: $0)) }.map(Array.init) ?? Array("{}".utf8)
            let response = try await client.post(keeperURL, path: "/v1/store/shard", body: body)
            let answer = Array(response.body)
            return (KeeperAnswer.classify(status: Int(response.status.code), body: answer), KeeperAnswer.witness(in: answer))
        } catch {
            switch error {
            case .unreachable(let why), .invalidURL(let why): return (KeeperAnswer.classify(.unreachable(why)), nil)
            case .timedOut(let limit): return (KeeperAnswer.classify(.timedOut("\(limit)")), nil)
            case .refused(let why): return (KeeperAnswer.classify(.tlsRefused(why)), nil)
            case .noResponse(let why): return (KeeperAnswer.classify(.noResponse(why)), nil)
            }
        }
    }

    private struct ShardRequest: Encodable { var head: LogWitness }

    /// Whether the Keeper accepted the share (and `head`, to witness).
    public func contribute(_ share: [UInt8], to keeperURL: String, head: LogWitness? = nil) async -> Bool {
        let witness = head.flatMap { try? JSONEncoder().encode($0) }.map { #","head":"#.utf8 + Array($0) } ?? []
        var body = Array(#"{"shard":["#.utf8) + Array(share.map(String.init).joined(separator: ",").utf8) + Array("]".utf8) + witness + Array("}".utf8)
        defer { Shamir.zero(&body) }
        guard let response = try? await client.post(keeperURL, path: "/v1/store/contribute", body: body) else { return false }
        return response.status == .ok
    }
}
