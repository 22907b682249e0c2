import EventLog

/// The Nexus' data as the fold of the current epoch's data events (DESIGN §5): secrets (values
/// still sealed) and compiled policies. A new epoch after a reset starts it empty; a rotation
/// carries it over.
public struct DataProjection: Sendable {
    public private(set) var secrets: [String: SecretEntry] = [:]
    public private(set) var policies: [String: Policy] = [:]
    public private(set) var accessDenials = 0
    public private(set) var epoch: UInt32 = 0

    public init() {}

    /// A projection as a snapshot kept it (`ProjectionSnapshot`).
    init(restoring secrets: [String: SecretEntry], policies: [String: Policy], accessDenials: Int, epoch: UInt32) {
        self.secrets = secrets
        self.policies = policies
        self.accessDenials = accessDenials
        self.epoch = epoch
    }

    public mutating func apply(_ event: DomainEvent) {
        switch event.payload {
        case let genesis as EpochStarted:
            if genesis.epoch != epoch { self = DataProjection() }
            epoch = genesis.epoch
        case let reset as SystemReset where reset.epoch == epoch:
            self = DataProjection()
        case let rotated as RootKeyRotated where rotated.fromEpoch == epoch:
            // A new root key, the same data: its keys were re-wrapped in the rotation's transaction.
            epoch = rotated.epoch
        case let put as SecretPut:
            secrets[put.path, default: SecretEntry()].apply(put, epoch: epoch)
        case let change as SecretDeleted:
            secrets[change.path]?.apply(change, epoch: epoch)
        case let change as SecretUndeleted:
            secrets[change.path]?.apply(change, epoch: epoch)
        case let change as SecretDestroyed:
            secrets[change.path]?.apply(change, epoch: epoch)
        case let put as PolicyPut:
            policies[put.name] = Policy(put)
        case let deleted as PolicyDeleted:
            policies[deleted.name] = nil
        case let denied as AccessDenied:
            accessDenials += denied.refusals
        default:
            break
        }
    }

    /// Takes secret and policy entries as a batch of this epoch's events left them (folded by
    /// the same `SecretEntry.apply` and `Policy(_:)` as `apply`; a policy of `nil` was deleted).
    public mutating func take(secrets entries: [String: SecretEntry], policies changed: [String: Policy?]) {
        for (path, entry) in entries { secrets[path] = entry }
        for (name, policy) in changed { policies[name] = policy }
    }

    /// Whether one policy grants all of `wants` to `peer` on `path` (no union across policies;
    /// default deny). Roles (superuser, lite workload) are decided before this, by the caller.
    public func allows(peer: String, path: String, wants: Set<Permission>) -> Bool {
        policies.values.contains { $0.grants(peer: peer, path: path, wants: wants) }
    }
}

