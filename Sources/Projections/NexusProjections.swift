import Crypto
import EventLog

/// Both projections of the Nexus, folded in one pass over the log, with what the fold could not
/// check yet: the authenticators of the current epoch's data events, which only the root key
/// can check (`authenticate(with:)`). Nothing a data event grants is served before that.
public struct NexusProjections: Sendable {
    public var lifecycle = LifecycleProjection()
    /// The data's fold; empty when the replay left the data for later (`foldingData: false`).
    public private(set) var dataFold = DataFold()
    /// Whether the data events were folded (a Nexus folds them once it has the root key, from a
    /// snapshot and the log's tail: `NexusStore.unlock`).
    public private(set) var dataFolded = true
    /// Events of informational kinds this build does not know, skipped (a newer writer's).
    public private(set) var skippedInformational = 0
    /// The head `replay` folded the log through: where a Nexus follows it from.
    public private(set) var head: ChainHead?

    public var data: DataProjection { dataFold.data }
    /// The current epoch's authenticated events folded so far, unchecked.
    public var unverified: UnverifiedEvents { dataFold.unverified }

    public init() {}

    /// Folds one event at `sequence` of epoch `epoch` (the record header's).
    public mutating func apply(_ event: DomainEvent, sequence: UInt64, epoch: UInt32, authenticator: EventAuthenticator?) throws(ReplayError) {
        if dataFolded { try dataFold.apply(event, sequence: sequence, epoch: epoch, authenticator: authenticator) }
        lifecycle.apply(event, sequence: sequence)
    }

    /// Folds every event of the log in `store`, opened with `keyring`. Throws at the first record that cannot be folded: a
    /// body that does not decode, a kind this build does not know that changes state (a newer
    /// writer, or damage), an event that must be authenticated and is not. Without
    /// `foldingData`, the data plane's records are read (the chain checked, the bodies opened,
    /// the authenticators' presence checked) but not decoded: the lifecycle alone is folded, and
    /// the data is left for later.
    public static func replay(_ store: some EventStore, keyring: LogKeyring, foldingData: Bool = true) throws -> NexusProjections {
        var projections = NexusProjections()
        projections.dataFolded = foldingData
        projections.head = try store.replay(after: .empty(store.logID), keyring: keyring) { view in
            if !foldingData, EventVocabulary.dataPlaneKinds.contains(view.kind) {
                // Not decoded, but a record that must carry an authenticator and has none is
                // refused now, as a fold would: no Nexus holding the root key wrote it.
                if let kind = EventVocabulary.kind(number: view.kind), kind.authenticated, !view.carriesAuthenticator {
                    throw ReplayError.unauthenticated(sequence: view.sequence, kind: kind.name)
                }
                return
            }
            guard let event = try DomainEvent.toFold(view) else {
                projections.skippedInformational += 1
                return
            }
            try projections.apply(event, sequence: view.sequence, epoch: view.header.epoch, authenticator: view.authenticator())
        }
        return projections
    }
}

extension DomainEvent {
    /// The event of a record, for a fold: nil for a kind this build does not know that is
    /// informational (a newer writer's, skipped); a body that does not decode is a corrupt record,
    /// an unknown kind that changes state is refused (`ReplayError.unknownKind`).
    public static func toFold(_ view: EventView) throws -> DomainEvent? {
        let event: DomainEvent?
        do {
            event = try DomainEvent.decode(kind: view.kind, body: view.body)
        } catch {
            throw LogError.corruptRecord(sequence: view.sequence, reason: "\(error)")
        }
        guard event != nil || EventKind.effect(ofNumber: view.kind) == .informational else {
            throw ReplayError.unknownKind(sequence: view.sequence, kind: view.kind)
        }
        return event
    }
}

/// Authenticated events folded before the root key was in memory: their authenticators, kept
/// (64 bytes each) so that one check over all of them, once the key is known, decides whether the
/// fold may be served, without reading the log again.
public struct UnverifiedEvents: Sendable {
    public struct Entry: Sendable {
        public var sequence: UInt64
        public var kind: String
        public var epoch: UInt32
        public var authenticator: EventAuthenticator
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    public var count: Int { entries.count }

    /// Takes an event's authenticator to be checked, if its kind has one. Refuses a record of an
    /// authenticated kind without one, and one of an epoch before `openedByRotation` (the epoch
    /// the last rotation opened): no Nexus writes under an epoch a rotation closed, someone
    /// holding an old key does.
    public mutating func admit(_ kind: EventKind, sequence: UInt64, epoch: UInt32, authenticator: EventAuthenticator?,
                               openedByRotation current: UInt32?) throws(ReplayError) {
        guard kind.authenticated else { return }
        guard let authenticator else { throw .unauthenticated(sequence: sequence, kind: kind.name) }
        if let current, epoch < current {
            throw .staleEpoch(sequence: sequence, kind: kind.name, epoch: epoch, current: current)
        }
        entries.append(Entry(sequence: sequence, kind: kind.name, epoch: epoch, authenticator: authenticator))
    }

    /// Checks every authenticator under the event key of `epoch`, which each must be of: what a
    /// Nexus holding the data keys checks of the records other replicas appended.
    public func authenticate(eventKey: SymmetricKey, epoch: UInt32) throws(ReplayError) {
        let check = EventAuthenticatorCheck(key: eventKey)
        for entry in entries where entry.epoch != epoch || !check.isValid(entry.authenticator) {
            throw .forged(sequence: entry.sequence, kind: entry.kind)
        }
    }

    /// Checks every authenticator under HKDF(R, "event auth", epoch), or for the records of an
    /// epoch before a rotation, under that epoch's key as the rotation carried it over
    /// (`previous`); throws for the first that fails: someone without the root key wrote it.
    public func authenticate(with rootKey: RootKey, epoch current: UInt32, previous: PreviousKeys = PreviousKeys()) throws(ReplayError) {
        var checks: [UInt32: EventAuthenticatorCheck] = [:]
        for entry in entries {
            // One key (an HKDF) per epoch, not per record: a replay checks 100,000s of them.
            let check: EventAuthenticatorCheck
            if let known = checks[entry.epoch] {
                check = known
            } else {
                let key = entry.epoch == current ? rootKey.eventAuthenticationKey(epoch: entry.epoch)
                    : previous.keys[entry.epoch].map { SymmetricKey(data: $0.eventAuthentication) }
                guard let key else { throw .forged(sequence: entry.sequence, kind: entry.kind) }
                check = EventAuthenticatorCheck(key: key)
                checks[entry.epoch] = check
            }
            guard check.isValid(entry.authenticator) else {
                throw .forged(sequence: entry.sequence, kind: entry.kind)
            }
        }
    }
}

/// Why a log cannot be folded into the Nexus' state. Each is a refusal to serve, never skipped.
public enum ReplayError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A kind this build does not know, of the state-changing range.
    case unknownKind(sequence: UInt64, kind: UInt16)
    /// A kind that must carry an authenticator, without one.
    case unauthenticated(sequence: UInt64, kind: String)
    /// An authenticator that the root key does not confirm.
    case forged(sequence: UInt64, kind: String)
    /// A data record of an epoch a rotation closed, after the rotation.
    case staleEpoch(sequence: UInt64, kind: String, epoch: UInt32, current: UInt32)

    public var description: String {
        switch self {
        case .unknownKind(let sequence, let kind):
            "record \(sequence) holds event kind \(kind), which this build does not know and which changes state: it was written by a newer spike (upgrade) or the log is damaged (`spike log verify`)"
        case .unauthenticated(let sequence, let kind):
            "record \(sequence) is a \(kind) without an authenticator: no Nexus holding the root key wrote it; the log was tampered with (restore it from a backup)"
        case .staleEpoch(let sequence, let kind, let epoch, let current):
            "record \(sequence) is a \(kind) of epoch \(epoch), written after the rotation to epoch \(current): no Nexus wrote it (it writes under the current epoch's keys); the log was tampered with (restore it from a backup)"
        case .forged(let sequence, let kind):
            "record \(sequence) is a \(kind) whose authenticator the root key does not confirm: it was not written by this system's Nexus; the log was tampered with (restore it from a backup)"
        }
    }
}
