import ArgumentParser
import Projections

/// The filters `spike log export` and `spike log audit` share.
struct LogTimeOptions: ParsableArguments {
    @Option(name: .long, help: "Only events at or after this time: RFC 3339, or a duration back from now (90m, 1h30m, 48h).")
    var since: String?

    @Option(name: .long, help: "Only events at or before this time (same forms as --since).")
    var until: String?

    @Option(name: .long, help: "Only events of this epoch (repeatable).")
    var epoch: [UInt32] = []

    var given: Bool { since != nil || until != nil || !epoch.isEmpty }

    func filter(now: Timestamp = .now) throws -> EventFilter {
        var filter = EventFilter()
        do {
            filter.since = try since.map { try TimeBound.parse($0, now: now) }
            filter.until = try until.map { try TimeBound.parse($0, now: now) }
        } catch {
            throw ValidationError("\(error)")
        }
        filter.epochs = Set(epoch)
        return filter
    }
}

struct LogEventFilterOptions: ParsableArguments {
    @OptionGroup var time: LogTimeOptions

    @Option(name: .long, help: "Only events of this kind, by its stable name (repeatable): KeeperPolled, SecretPut, SystemReset, …")
    var kind: [String] = []

    @Option(name: .long, help: "Only events about this Keeper (its 1-based index).")
    var keeper: Int?

    @Option(name: .long, help: "Only events on secret paths starting with this.")
    var pathPrefix: String?

    @Option(name: .long, help: "Only events by this SPIFFE ID.")
    var actor: String?

    var given: Bool { time.given || !kind.isEmpty || keeper != nil || pathPrefix != nil || actor != nil }

    func filter() throws -> EventFilter {
        var filter = try time.filter()
        do {
            filter.kinds = try EventFilter.kinds(named: kind)
        } catch {
            throw ValidationError("\(error)")
        }
        filter.keeper = keeper
        filter.pathPrefix = pathPrefix
        filter.actor = actor
        return filter
    }
}
