import EventLog
import Projections

/// The Nexus' secrets and policies as a value: the projection, the key table it relies on, and
/// the decisions of a group commit over a snapshot of both. The store (and the simulator) hold
/// one, decide a batch on a copy (copy-on-write: nothing is copied unless written), append what
/// it decided, and `apply` it once durable. Pure.
public struct DataPlane: Sendable {
    public private(set) var projection: DataProjection
    /// Version keys (wrapped under the data key), mirrored from the log's key table.
    public private(set) var versionKeys: [[UInt8]: [UInt8]]
    public let maxVersions: Int

    public init(projection: DataProjection, versionKeys: [[UInt8]: [UInt8]], maxVersions: Int) {
        self.projection = projection
        self.versionKeys = versionKeys
        self.maxVersions = maxVersions
    }

    /// What a batch of commands comes to: the events and key-table changes to append in one
    /// transaction, and each command's outcome once they are durable.
    public struct Decision: Sendable {
        public var events: [DomainEvent]
        public var keyChanges: KeyTableChanges
        public var outcomes: [DataOutcome]
        /// The secrets and policies its events change, as the batch folded them while deciding.
        var secrets: [String: SecretEntry]
        var policies: [String: Policy?]

        /// The records to append: authenticated kinds under the epoch's event key.
        public func newEvents(keys: DataKeys) -> [NewEvent] {
            events.map { NewEvent(kind: $0.kind.number, body: $0.encoded(), authenticationKey: $0.kind.authenticated ? keys.eventAuthentication : nil) }
        }
    }

    /// Decides `commands` in order, each on top of the ones before it.
    public func decide(_ commands: [(DataCommand, DataContext)], keys: DataKeys) -> Decision {
        var batch = DataBatch(keys: keys, maxVersions: maxVersions, base: projection)
        let outcomes = commands.map { batch.decide($0.0, $0.1) }
        return Decision(events: batch.events, keyChanges: batch.keyChanges, outcomes: outcomes,
                        secrets: batch.secrets, policies: batch.policies)
    }

    /// Folds a decision whose events are durable. The batch folded its secret and policy events
    /// into copies of the entries while deciding (`SecretEntry.apply`, as the projection's fold
    /// does): those entries are taken as they are, not folded a second time in the store's loop;
    /// refusals are counted. The simulator checks after every step that the plane equals the
    /// fold of the log.
    public mutating func apply(_ decision: Decision) {
        projection.take(secrets: decision.secrets, policies: decision.policies)
        for event in decision.events where event.payload is AccessDenied { projection.apply(event) }
        for entry in decision.keyChanges.puts { versionKeys[entry.id] = entry.value }
        for id in decision.keyChanges.deletes { versionKeys[id] = nil }
    }

    /// Folds an event another replica appended, the version keys kept in step with the key table:
    /// a put's key is taken from `keys` (the key table's entries, read after the records), the
    /// keys the event shredded are forgotten. A rotation re-wrapped every key: the caller reads
    /// the whole table again.
    public mutating func fold(_ event: DomainEvent, keys: [[UInt8]: [UInt8]]) {
        if let path = (event.payload as? SecretPut)?.path ?? (event.payload as? SecretDestroyed)?.path,
           let entry = projection.secrets[path] {
            for id in entry.keysShredded(by: event.payload) { versionKeys[id] = nil }
        }
        if let put = event.payload as? SecretPut { versionKeys[Array(put.keyID)] = keys[Array(put.keyID)] }
        projection.apply(event)
    }

    /// The version keys as the key table holds them now (after another replica's rotation).
    public mutating func reloadVersionKeys(_ keys: [[UInt8]: [UInt8]]) {
        versionKeys = keys
    }

    /// Folds a rotation whose transaction is durable: its events (the data's epoch moves on) and
    /// the version keys it re-wrapped.
    public mutating func applyRotation(_ events: [DomainEvent], versionKeys rewrapped: [KeyTableEntry]) {
        for event in events { projection.apply(event) }
        for entry in rewrapped { versionKeys[entry.id] = entry.value }
    }

    /// Every version key re-wrapped from `keys`' data key to `next`'s: the key-table puts of a
    /// rotation. Other entries of the key table (a rotation's link) are not version keys.
    public func rewrappedVersionKeys(from keys: DataKeys, to next: DataKeys) throws(KeyError) -> [KeyTableEntry] {
        var entries: [KeyTableEntry] = []
        entries.reserveCapacity(versionKeys.count)
        for (id, wrapped) in versionKeys where id.first == UInt8(ascii: "v") {
            entries.append(KeyTableEntry(id: id, value: try VersionSeal.rewrap(wrapped, keyID: id, from: keys.data, to: next.data)))
        }
        return entries
    }
}
