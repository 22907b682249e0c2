/// When the data store writes a snapshot of its projection (`ProjectionSnapshot`, ADR-0017):
/// after `everyEvents` records since the last one (or a quarter as many records as secrets held,
/// if that is more: a snapshot's size grows with them), after `interval` if the log moved at all,
/// and at a clean stop. A snapshot is sealed and stored off the write loop; at most one is in flight.
public struct SnapshotPolicy: Sendable, Equatable {
    public var everyEvents: UInt64
    public var interval: Duration

    public init(everyEvents: UInt64 = 10_000, interval: Duration = .seconds(300)) {
        self.everyEvents = everyEvents
        self.interval = interval
    }
}
