import Foundation
import NIOHTTP1
import SecretSharing

/// Asks Keepers for their shares and gives shares to them, over the Nexus' mutual-TLS client,
/// and sorts every answer into a `PollResult` (never throws: an answer is always an outcome).
public struct KeeperPoller: Sendable {
    public let client: HTTPClient

    public init(client: HTTPClient) {
        self.client = client
    }

    struct ShardAnswer: Decodable { var shard: [UInt8]? }

    public func poll(_ keeperURL: String) async -> NexusLifecycle.PollResult {
        let response: HTTPClientResponse
        do {
            response = try await client.post(keeperURL, path: "/v1/store/shard", body: Array("{}".utf8))
        } catch {
            switch error {
            case .unreachable(let why), .invalidURL(let why): return .unreachable(why)
            case .timedOut(let limit): return .unreachable("no answer within \(limit)")
            case .refused(let why): return .refused(why)
            case .noResponse(let why): return .error(why)
            }
        }
        let answer = try? JSONDecoder().decode(ShardAnswer.self, from: Data(response.body))
        switch response.status {
        case .ok:
            guard let shard = answer?.shard else { return answer == nil ? .error("a 200 answer that is not a shard") : .empty }
            guard shard.count == 32 else { return .error("a shard of \(shard.count) bytes") }
            return shard.allSatisfy { $0 == 0 } ? .empty : .shard(shard)
        case .notFound:
            return .empty
        case .badRequest where answer != nil && answer?.shard == nil:
            // SPIKE's Keeper answers an empty state with 400 and a null shard.
            return .empty
        case .unauthorized, .forbidden:
            return .refused("HTTP \(response.status.code): the Keeper does not accept this Nexus' SPIFFE ID")
        default:
            return .error("HTTP \(response.status.code)")
        }
    }

    /// Whether the Keeper accepted the share.
    public func contribute(_ share: [UInt8], to keeperURL: String) async -> Bool {
        var body = Array(#"{"shard":["#.utf8) + Array(share.map(String.init).joined(separator: ",").utf8) + Array("]}".utf8)
        defer { Shamir.zero(&body) }
        guard let response = try? await client.post(keeperURL, path: "/v1/store/contribute", body: body) else { return false }
        return response.status == .ok
    }
}
