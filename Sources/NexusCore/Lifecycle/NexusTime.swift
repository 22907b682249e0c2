/// A reading of the two clocks the Nexus' decisions take as input, in milliseconds: the wall
/// clock for the times written into events (what an auditor reads), and a monotonic clock for
/// deadlines and intervals, so that a wall clock stepped back (NTP, an operator) never stalls
/// polling or a summary. The core reads no clock itself: production passes the system's
/// clocks, the simulator virtual ones.
public struct NexusTime: Equatable, Sendable {
    /// Milliseconds since the Unix epoch.
    public var wall: Int64
    /// Milliseconds on a clock that only moves forward (its origin is arbitrary).
    public var monotonic: Int64

    public init(wall: Int64, monotonic: Int64) {
        self.wall = wall
        self.monotonic = monotonic
    }
}
