import Foundation
import NexusCore
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

    public func poll(_ keeperURL: String) async -> NexusLifecycle.PollResult {
        do {
            let response = try await client.post(keeperURL, path: "/v1/store/shard", body: Array("{}".utf8))
            return KeeperAnswer.classify(status: Int(response.status.code), body: Array(response.body))
        } catch {
            switch error {
            case .unreachable(let why), .invalidURL(let why): return KeeperAnswer.classify(.unreachable(why))
            case .timedOut(let limit): return KeeperAnswer.classify(.timedOut("\(limit)"))
            case .refused(let why): return KeeperAnswer.classify(.tlsRefused(why))
            case .noResponse(let why): return KeeperAnswer.classify(.noResponse(why))
            }
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
