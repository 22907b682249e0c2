import NIOHTTP1
import NexusCore
import Projections
import SecretSharing
import SPIFFE
import SpikeAPI
import Synchronization

/// A Keeper (reference §2.5, ADR-0021): one share in memory, nothing on disk, no configuration
/// beyond its address and trust roots. The Nexus contributes the share and asks for it back;
/// an empty Keeper answers 404 (SPIKE's code answers 400; ADR-0022 and this project say 404).
public final class KeeperService: HTTPService {
    private let share = Mutex<[UInt8]?>(nil)
    /// The newest log head the Nexus handed over to witness (DESIGN §3), in memory like the share;
    /// given back with every answer so that a Nexus started on a rolled-back log finds out.
    private let witness = Mutex<LogWitness?>(nil)
    private let roles: SpikeRoles

    public init(roles: SpikeRoles) {
        self.roles = roles
    }

    /// Who may open a connection at all: the Nexus alone. SPIKE lets its Bootstrap contribute
    /// too; this system has no Bootstrap, and a share it could overwrite would seal the system
    /// at the Nexus' next start.
    public var connectionAuthorizer: Authorizer { roles.authorizer(.nexus) }

    /// A Keeper's requests are a share each: 64 KiB is plenty.
    public static let limits = HTTPServerLimits(maxBodySize: 64 << 10)

    public var holdsShare: Bool { share.withLock { $0 != nil } }
    public var witnessedHead: LogWitness? { witness.withLock { $0 } }

    /// SPIKE's bodies, and the head to witness (a field SPIKE's Nexus does not send).
    struct ContributeRequest: Decodable {
        var shard: [UInt8]?
        var head: LogWitness?
    }
    struct ShardRequest: Decodable { var head: LogWitness? }
    struct ShardResponse: Encodable {
        var shard: [UInt8]?
        // SPIKE's field has no JSON tag, hence the capital name; always present.
        var Err: String
        var head: LogWitness?

        enum CodingKeys: String, CodingKey { case shard, Err, head }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(shard, forKey: .shard)
            try container.encode(Err, forKey: .Err)
            try container.encodeIfPresent(head, forKey: .head)
        }
    }

    /// Keeps `head` (when the Nexus sent one of a sane shape) and answers with the head held.
    private func keep(_ head: LogWitness?) -> LogWitness? {
        witness.withLock { held in
            if let head, head.link.count == 32, head.mac.count == 32 { held = head }
            return held
        }
    }

    public func addRoutes(to router: inout HTTPRouter) {
        router.add(.POST, "/v1/store/contribute") { [self] request in
            guard roles.has(request.peer, .nexus) else { throw APIFailure(.unauthorized) }
            let body = try request.decode(ContributeRequest.self)
            guard let value = body.shard, value.count == Shamir.secretLength, value.contains(where: { $0 != 0 }) else {
                throw APIFailure.badRequest
            }
            _ = keep(body.head)
            share.withLock { stored in
                // The replaced share's buffer is owned here alone: zeroing it overwrites it.
                if stored != nil { Shamir.zero(&stored!) }
                stored = value
            }
            return HTTPResponse.json([String: String]())
        }
        router.add(.POST, "/v1/store/shard") { [self] request in
            guard roles.has(request.peer, .nexus) else {
                return HTTPResponse.json(ShardResponse(shard: nil, Err: APIErrorCode.unauthorized.rawValue), status: .unauthorized)
            }
            // SPIKE's Nexus sends `{}` or nothing; anything that is not a head is ignored.
            let head = keep((try? request.decode(ShardRequest.self))?.head)
            guard let value = share.withLock({ $0 }) else {
                return HTTPResponse.json(ShardResponse(shard: nil, Err: APIErrorCode.notFound.rawValue, head: head), status: .notFound)
            }
            return HTTPResponse.json(ShardResponse(shard: value, Err: "", head: head))
        }
    }
}
