import EventLog

/// What `spike log stats` reports: the log's records by kind, epoch and day, from the clear
/// headers alone (no key needed), and how much of it is Keeper polling and refusals.
public struct LogUsage: Codable, Sendable {
    public struct Tally: Codable, Sendable, Equatable {
        public var records = 0
        public var bytes = 0
    }

    public var records = Tally()
    public var segments = Tally()
    public var byKind: [String: Tally] = [:]
    public var byEpoch: [String: Tally] = [:]
    /// By UTC day (`2026-12-02`).
    public var byDay: [String: Tally] = [:]
    public var first: Timestamp?
    public var last: Timestamp?
    /// The day of the record before (a day's name is built once, not per record).
    private var day: (number: Int64, name: String) = (.min, "")

    enum CodingKeys: String, CodingKey { case records, segments, byKind, byEpoch, byDay, first, last }

    public init() {}

    public mutating func apply(_ header: RecordHeader) {
        let bytes = RecordHeader.size + Int(header.bodyLength)
        records.records += 1
        records.bytes += bytes
        let time = Timestamp(nanoseconds: header.time)
        if first == nil { first = time }
        last = time
        let dayNumber = header.time >= 0 ? header.time / 86_400_000_000_000 : (header.time + 1) / 86_400_000_000_000 - 1
        if dayNumber != day.number { day = (dayNumber, String(time.rfc3339.prefix(10))) }
        byDay[day.name, default: Tally()].add(bytes)
        guard header.type != .segment else {
            segments.add(bytes)
            return
        }
        byKind[EventVocabulary.name(of: header.kind), default: Tally()].add(bytes)
        byEpoch[String(header.epoch), default: Tally()].add(bytes)
    }

    /// The part of the records (and of their bytes) that are of these kinds.
    public func share(of kinds: [EventKind]) -> (records: Double, bytes: Double) {
        let total = Swift.max(1, records.records - segments.records), totalBytes = Swift.max(1, records.bytes - segments.bytes)
        let tallies = kinds.compactMap { byKind[$0.name] }
        return (Double(tallies.map(\.records).reduce(0, +)) / Double(total), Double(tallies.map(\.bytes).reduce(0, +)) / Double(totalBytes))
    }
}

extension LogUsage.Tally {
    mutating func add(_ bytes: Int) {
        records += 1
        self.bytes += bytes
    }
}
