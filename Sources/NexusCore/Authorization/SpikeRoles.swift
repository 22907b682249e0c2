import Foundation
import SPIFFE

/// SPIKE's roles by SPIFFE ID (reference §1.1): an ID has a role when it equals the role's ID
/// under one of the role's trust roots or lies below it (`…/superuser/instance-0` is a
/// superuser; `…/superuser-x` is not). Trust roots come from `SPIKE_TRUST_ROOT_*` (comma lists,
/// default `spike.ist`).
public struct SpikeRoles: Sendable {
    public enum Role: String, CaseIterable, Sendable {
        case nexus, keeper, bootstrap, superuser, recover, restore, liteWorkload

        var path: String {
            switch self {
            case .nexus: "/spike/nexus"
            case .keeper: "/spike/keeper"
            case .bootstrap: "/spike/bootstrap"
            case .superuser: "/spike/pilot/role/superuser"
            case .recover: "/spike/pilot/role/recover"
            case .restore: "/spike/pilot/role/restore"
            case .liteWorkload: "/spike/workload/role/lite"
            }
        }

        /// Its place in `SpikeRoles.roleIDs` (one per case, from 0).
        var ordinal: Int {
            switch self {
            case .nexus: 0
            case .keeper: 1
            case .bootstrap: 2
            case .superuser: 3
            case .recover: 4
            case .restore: 5
            case .liteWorkload: 6
            }
        }

        var environmentVariable: String {
            switch self {
            case .nexus: "SPIKE_TRUST_ROOT_NEXUS"
            case .keeper: "SPIKE_TRUST_ROOT_KEEPER"
            case .bootstrap: "SPIKE_TRUST_ROOT_BOOTSTRAP"
            case .superuser, .recover, .restore: "SPIKE_TRUST_ROOT_PILOT"
            case .liteWorkload: "SPIKE_TRUST_ROOT_LITE_WORKLOAD"
            }
        }
    }

    public static let defaultTrustRoot = "spike.ist"
    /// Each role's IDs, one per trust root, at the role's `ordinal`: computed once, checked on
    /// every request (indexed, not hashed: a `String` enum hashes its raw value).
    private let roleIDs: [[SPIFFEID]]

    public init(trustRoots: [Role: [TrustDomain]]) {
        var roleIDs = [[SPIFFEID]](repeating: [], count: Role.allCases.count)
        for role in Role.allCases {
            roleIDs[role.ordinal] = (trustRoots[role] ?? []).compactMap { try? SPIFFEID(parsing: "spiffe://\($0.name)\(role.path)") }
        }
        self.roleIDs = roleIDs
    }

    /// Reads `SPIKE_TRUST_ROOT_<ROLE>` (then `SPIKE_TRUST_ROOT`, then `spike.ist`) for each role.
    public init(environment: [String: String]) throws(SPIFFEIDError) {
        var roots: [Role: [TrustDomain]] = [:]
        for role in Role.allCases {
            let value = environment[role.environmentVariable].flatMap { $0.isEmpty ? nil : $0 }
                ?? environment["SPIKE_TRUST_ROOT"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultTrustRoot
            roots[role] = try value.split(separator: ",").map { part throws(SPIFFEIDError) in
                try TrustDomain(parsing: part.trimmingCharacters(in: .whitespaces))
            }
        }
        self.init(trustRoots: roots)
    }

    /// The role's IDs, one per trust root (`spiffe://TD/spike/nexus`, …).
    public func ids(_ role: Role) -> [SPIFFEID] { roleIDs[role.ordinal] }

    public func authorizer(_ role: Role) -> Authorizer {
        ids(role).map { Authorizer.equalToOrBelow($0) }.reduce(Authorizer { _ in false }) { $0.or($1) }
    }

    public func has(_ id: SPIFFEID, _ role: Role) -> Bool { roleIDs[role.ordinal].contains { id.isEqualToOrBelow($0) } }
}
