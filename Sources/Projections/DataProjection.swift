import EventLog

/// The Nexus' data as the fold of the current epoch's data events (DESIGN §5): secrets (values
/// still sealed) and compiled policies. A new epoch (a reset) starts it empty.
public struct DataProjection: Sendable {
    public private(set) var secrets: [String: SecretEntry] = [:]
    public private(set) var policies: [String: Policy] = [:]
    public private(set) var accessDenials = 0
    public private(set) var epoch: UInt32 = 0

    public init() {}

    public mutating func apply(_ event: DomainEvent) {
        switch event.payload {
        case .epochStarted(let genesis):
            if genesis.epoch != epoch { self = DataProjection() }
            epoch = genesis.epoch
        case .secretPut(let put):
            secrets[put.path, default: SecretEntry()].apply(event.payload)
        case .secretDeleted(let change), .secretUndeleted(let change), .secretDestroyed(let change):
            secrets[change.path]?.apply(event.payload)
        case .policyPut(let put):
            policies[put.name] = Policy(put)
        case .policyDeleted(let deleted):
            policies[deleted.name] = nil
        case .accessDenied:
            accessDenials += 1
        case .nexusStarted, .nexusStopped, .rootKeyRestored, .rootKeyRestoreFailed, .shardDistributed, .keeperPolled, .keeperRehydrated:
            break
        }
    }

    /// Whether one policy grants all of `wants` to `peer` on `path` (no union across policies;
    /// default deny). Roles (superuser, lite workload) are decided before this, by the caller.
    public func allows(peer: String, path: String, wants: Set<Permission>) -> Bool {
        policies.values.contains { $0.grants(peer: peer, path: path, wants: wants) }
    }
}

/// Both projections of the Nexus, folded in one pass over the log.
public struct NexusProjections: Sendable {
    public var lifecycle = LifecycleProjection()
    public var data = DataProjection()

    public init() {}

    /// Folds every event of `reader`'s log (unknown kinds are skipped; a body that does not
    /// decode is an error naming its record).
    public static func replay(_ reader: LogReader) throws -> NexusProjections {
        var projections = NexusProjections()
        try reader.replay { view in
            let event: DomainEvent?
            do {
                event = try DomainEvent.decode(kind: view.kind, body: view.body)
            } catch {
                throw LogError.corruptRecord(sequence: view.sequence, reason: "\(error)")
            }
            if let event {
                projections.lifecycle.apply(event, sequence: view.sequence)
                projections.data.apply(event)
            }
        }
        return projections
    }
}
