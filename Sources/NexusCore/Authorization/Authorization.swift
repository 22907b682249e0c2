import Projections
import SPIFFE

/// Who may do what on the data (reference §2.2), decided once for every route: superusers may
/// do anything; lite workloads may use the cipher and nothing else; anyone else needs one
/// policy granting every permission wanted on the path (no union across policies, default
/// deny). Pure: the policies come in as a snapshot of the projection.
public struct Authorization: Sendable {
    public let roles: SpikeRoles

    public init(roles: SpikeRoles) {
        self.roles = roles
    }

    /// Whether `peer` may do an operation wanting `wants` on `path`; `isCipher` for the cipher's
    /// routes (what a lite workload may use). `policies` is read only for a peer that needs one
    /// (not a superuser's every request).
    public func allows(_ peer: SPIFFEID, isCipher: Bool, path: String, wants: Set<Permission>,
                       policies: @autoclosure () -> DataProjection) -> Bool {
        if roles.has(peer, .superuser) { return true }
        if roles.has(peer, .liteWorkload) { return isCipher }
        // Authorization comes before validation (as in SPIKE), but policy patterns never run on
        // a path that could not exist: an unbounded one would let a caller make the regular
        // expressions work for as long as it likes.
        guard ReservedPaths.isReserved(path) || Validation.isValidSecretPath(path) else { return false }
        return policies().allows(peer: peer.description, path: path, wants: wants)
    }
}
