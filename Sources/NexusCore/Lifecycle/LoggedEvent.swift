import Projections

/// An event another Nexus replica appended to the shared log, as this one read it (in log
/// order): what `NexusLifecycle.folded` and the driver's append reports take.
public struct LoggedEvent: Sendable {
    public var sequence: UInt64
    public var event: DomainEvent
    /// For a `RootKeyRotated`: its link as the key table held it when read (the new root key
    /// under the old one), with which a ready replica follows the rotation; nil otherwise.
    public var rotationLink: [UInt8]?

    public init(sequence: UInt64, event: DomainEvent, rotationLink: [UInt8]? = nil) {
        self.sequence = sequence
        self.event = event
        self.rotationLink = rotationLink
    }
}
