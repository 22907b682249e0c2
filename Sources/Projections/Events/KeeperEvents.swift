import Foundation

/// A Keeper was sent its share; the share is in the event, sealed with the data key, so the
/// same share can be sent again (rehydration) without a new split.
public struct ShardDistributed: EventPayload {
    public static let kind = EventKind(20, "ShardDistributed", .changesState)
    public static let sealedFields = ["sealedShard"]

    public var epoch: UInt32
    /// 1-based: the Keeper's position in the list and the share's x coordinate.
    public var keeper: Int
    public var keeperURL: String
    public var sealedShard: Data

    public init(epoch: UInt32, keeper: Int, keeperURL: String, sealedShard: Data) {
        self.epoch = epoch
        self.keeper = keeper
        self.keeperURL = keeperURL
        self.sealedShard = sealedShard
    }
}

/// What one poll of a Keeper found.
public enum KeeperPollOutcome: String, Codable, CaseIterable, Comparable, Sendable {
    /// 200 with a share.
    case hasShard = "has-shard"
    /// 404 (or SPIKE's 400 with no shard): the Keeper restarted and is empty.
    case empty
    /// No connection, or no answer in time.
    case unreachable
    /// The TLS handshake or the Keeper refused us (401).
    case refused
    /// Anything else: a 5xx, a malformed answer.
    case error

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// `count` consecutive polls of one Keeper with the same outcome, between `firstAt` and
/// `lastAt` (milliseconds since the Unix epoch). A change of outcome is written at once; an
/// unchanged one is summarized at least once a minute, so the counts add up to every poll made.
public struct KeeperPolled: EventPayload {
    public static let kind = EventKind(21, "KeeperPolled", .informational)

    public var keeper: Int
    public var outcome: KeeperPollOutcome
    public var count: Int
    public var firstAt: Int64
    public var lastAt: Int64
    /// The slowest answer among them, in milliseconds.
    public var maxLatencyMillis: Int64
    /// For `error` and `refused`: what was seen (never a share).
    public var detail: String?

    public init(keeper: Int, outcome: KeeperPollOutcome, count: Int, firstAt: Int64, lastAt: Int64,
                maxLatencyMillis: Int64, detail: String? = nil) {
        self.keeper = keeper
        self.outcome = outcome
        self.count = count
        self.firstAt = firstAt
        self.lastAt = lastAt
        self.maxLatencyMillis = maxLatencyMillis
        self.detail = detail
    }
}

/// Why a Keeper was sent its share again.
public enum RehydrationReason: String, Codable, Equatable, Sendable {
    /// It answered 404: it restarted and holds nothing.
    case empty
    /// It holds a share that is not the one distributed to it.
    case mismatch
}

/// A Keeper got its share again: the `ShardDistributed` event at sequence `distribution`,
/// replayed.
public struct KeeperRehydrated: EventPayload {
    public static let kind = EventKind(22, "KeeperRehydrated", .changesState)

    public var keeper: Int
    public var distribution: UInt64
    public var reason: RehydrationReason

    public init(keeper: Int, distribution: UInt64, reason: RehydrationReason) {
        self.keeper = keeper
        self.distribution = distribution
        self.reason = reason
    }
}
