import Foundation

/// Which events an export or an audit report covers. The header filters (time, epoch, kind)
/// need no key; the body filters (keeper, path, actor) need the bodies opened.
public struct EventFilter: Sendable {
    public var since: Timestamp?
    public var until: Timestamp?
    public var epochs: Set<UInt32> = []
    public var kinds: Set<UInt16> = []
    public var keeper: Int?
    public var pathPrefix: String?
    public var actor: String?

    public init() {}

    public var needsBodies: Bool { keeper != nil || pathPrefix != nil || actor != nil }

    /// Whether a record with this header may match (all of a header-only filter's decision).
    @inline(__always)
    public func admits(time: Int64, epoch: UInt32, kind: UInt16) -> Bool {
        if let since, time < since.nanoseconds { return false }
        if let until, time > until.nanoseconds { return false }
        if !epochs.isEmpty, !epochs.contains(epoch) { return false }
        if !kinds.isEmpty, !kinds.contains(kind) { return false }
        return true
    }

    /// The body half: an event without the field a filter names does not match it.
    public func admits(_ event: ExportedEvent) -> Bool {
        if let keeper, event.keeper != keeper { return false }
        if let pathPrefix, !(event.path?.hasPrefix(pathPrefix) ?? false) { return false }
        if let actor, event.actor != actor { return false }
        return true
    }

    /// The kind numbers for stable event names; throws naming the first unknown one and the
    /// names there are.
    public static func kinds(named names: [String]) throws(FilterError) -> Set<UInt16> {
        var numbers = Set<UInt16>()
        for name in names {
            guard let kind = EventVocabulary.kinds.first(where: { $0.name == name }) else {
                throw .unknownKind(name, known: EventVocabulary.kinds.map(\.name))
            }
            numbers.insert(kind.number)
        }
        return numbers
    }
}

/// A time bound given on the command line: RFC 3339, or a Go duration back from now (`90m`,
/// `1h30m`, `2.5h`, `45s`; units ns, us, µs, ms, s, m, h), as SPIKE's Go tools take them.
public enum TimeBound {
    public static func parse(_ text: String, now: Timestamp) throws(FilterError) -> Timestamp {
        if let time = Timestamp(rfc3339: text) { return time }
        if let duration = goDuration(text) { return Timestamp(nanoseconds: now.nanoseconds - duration) }
        throw .badTime(text)
    }

    /// A Go duration in nanoseconds, nil when `text` is not one.
    public static func goDuration(_ text: String) -> Int64? {
        var rest = Substring(text)
        var negative = false
        if rest.first == "-" || rest.first == "+" {
            negative = rest.first == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { return nil }
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix(while: { $0.isNumber || $0 == "." })
            guard !number.isEmpty, number != ".", let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            // The longest unit that matches ("ms" before "m").
            guard let unit = units.filter({ rest.hasPrefix($0.0) }).max(by: { $0.0.count < $1.0.count }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            total += value * unit.1
        }
        guard total < 9.2e18 else { return nil }
        return Int64(total) * (negative ? -1 : 1)
    }
}

/// A filter the command line got wrong.
public enum FilterError: Error, Equatable, CustomStringConvertible {
    case unknownKind(String, known: [String])
    case badTime(String)

    public var description: String {
        switch self {
        case .unknownKind(let name, let known):
            "no event kind is named \"\(name)\"; the kinds are \(known.joined(separator: ", "))"
        case .badTime(let text):
            "\"\(text)\" is neither an RFC 3339 time (2026-12-02T07:00:00Z) nor a duration back from now (90m, 1h30m, 2d is not one: use 48h)"
        }
    }
}
