import EventLog

/// The data's part of the Nexus' fold: the projection, the authenticators it was folded from
/// that wait for the root key, and the epoch the last rotation opened (a data record of an
/// earlier epoch after it was not written by a Nexus). Started empty (from the first record) or
/// from a snapshot (after its record); what a start folds once the root key is known, and what
/// `NexusProjections` folds in one pass with the lifecycle.
public struct DataFold: Sendable {
    public private(set) var data: DataProjection
    public private(set) var unverified = UnverifiedEvents()
    public private(set) var openedByRotation: UInt32?

    public init(data: DataProjection = DataProjection(), openedByRotation: UInt32? = nil) {
        self.data = data
        self.openedByRotation = openedByRotation
    }

    /// Folds one event at `sequence` of epoch `epoch` (the record header's).
    public mutating func apply(_ event: DomainEvent, sequence: UInt64, epoch: UInt32, authenticator: EventAuthenticator?) throws(ReplayError) {
        try unverified.admit(event.kind, sequence: sequence, epoch: epoch, authenticator: authenticator, openedByRotation: openedByRotation)
        switch event.payload {
        case let rotated as RootKeyRotated where rotated.fromEpoch == data.epoch && data.epoch != 0:
            openedByRotation = rotated.epoch
        case is EpochStarted:
            openedByRotation = nil
        case let reset as SystemReset where reset.epoch == data.epoch:
            openedByRotation = nil
        default:
            break
        }
        data.apply(event)
        // A new epoch (or a closed one) starts the data over; what came before is not folded.
        if event.payload is EpochStarted || event.payload is SystemReset { unverified = UnverifiedEvents() }
    }
}
