import NIOHTTP1
import NexusCore
import SecretSharing
import SPIFFE
import SpikeAPI
import Synchronization

/// A Keeper (reference §2.5, ADR-0021): one share in memory, nothing on disk, no configuration
/// beyond its address and trust roots. The Nexus contributes the share and asks for it back;
/// an empty Keeper answers 404 (SPIKE's code answers 400; ADR-0022 and this project say 404).
public final class KeeperService: Sendable {
    private let share = Mutex<[UInt8]?>(nil)
    private let roles: SpikeRoles

    public init(roles: SpikeRoles) {
        self.roles = roles
    }

    /// Who may open a connection at all: the Nexus, or SPIKE's Bootstrap (contribute only).
    public var connectionAuthorizer: Authorizer { roles.authorizer(.nexus).or(roles.authorizer(.bootstrap)) }

    public var holdsShare: Bool { share.withLock { $0 != nil } }

    struct ContributeRequest: Decodable { var shard: [UInt8]? }
    struct ShardResponse: Encodable {
        var shard: [UInt8]?
        // SPIKE's field has no JSON tag, hence the capital name; always present.
        var Err: String

        enum CodingKeys: String, CodingKey { case shard, Err }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(shard, forKey: .shard)
            try container.encode(Err, forKey: .Err)
        }
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        guard request.method == .POST else { return .error(.badRequest, status: .badRequest) }
        switch request.path {
        case "/v1/store/contribute":
            guard roles.has(request.peer, .nexus) || roles.has(request.peer, .bootstrap) else {
                return .error(.unauthorized, status: .unauthorized)
            }
            guard let value = request.decodeJSON(ContributeRequest.self)?.shard,
                  value.count == Shamir.secretLength, value.contains(where: { $0 != 0 }) else {
                return .error(.badRequest, status: .badRequest)
            }
            share.withLock { stored in
                // The replaced share's buffer is owned here alone: zeroing it overwrites it.
                if stored != nil { Shamir.zero(&stored!) }
                stored = value
            }
            return .json([String: String]())
        case "/v1/store/shard":
            guard roles.has(request.peer, .nexus) else {
                return .json(ShardResponse(shard: nil, Err: "access_unauthorized"), status: .unauthorized)
            }
            guard let value = share.withLock({ $0 }) else {
                return .json(ShardResponse(shard: nil, Err: "api_not_found"), status: .notFound)
            }
            return .json(ShardResponse(shard: value, Err: ""))
        default:
            return .error(.badRequest, status: .badRequest)
        }
    }
}
