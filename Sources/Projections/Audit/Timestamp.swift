import Foundation

/// A point in time as the log keeps it (nanoseconds since the Unix epoch, UTC), written in
/// exports and reports as RFC 3339 with nanoseconds (`2026-12-02T07:27:37.123456789Z`), the
/// form DuckDB, Python and `jq` parse as a timestamp.
public struct Timestamp: Comparable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public init(milliseconds: Int64) { self.nanoseconds = milliseconds &* 1_000_000 }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static var now: Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }

    /// Seconds from `self` to `later`.
    public func seconds(until later: Timestamp) -> Double { Double(later.nanoseconds - nanoseconds) / 1e9 }

    public var description: String { rfc3339 }

    /// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
    public var rfc3339: String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(30)
        write(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The same in seconds (`2026-12-02 07:27:37Z`), for text meant for people.
    public var short: String {
        String(rfc3339.prefix(19)).replacingOccurrences(of: "T", with: " ") + "Z"
    }

    /// Appends `rfc3339` to `out` without building a String.
    public func write(to out: inout [UInt8]) {
        var writer = Writer()
        writer.write(nanoseconds, to: &out)
    }

    /// Writes many times: the date and time to the second are formatted once per second (an
    /// export writes millions, most within the same second as the one before).
    public struct Writer: Sendable {
        private var second = Int64.min
        private var prefix: [UInt8] = []

        public init() {}

        public mutating func write(_ nanoseconds: Int64, to out: inout [UInt8]) {
            let seconds = nanoseconds.floorDivided(by: 1_000_000_000)
            if seconds != second {
                second = seconds
                prefix.removeAll(keepingCapacity: true)
                Timestamp(nanoseconds: seconds * 1_000_000_000).formatSecond(to: &prefix)
            }
            prefix.withUnsafeBufferPointer { out.append(contentsOf: $0) }  // borrowed, not retained
            // The nine digits of the fraction and the Z, written into a stack buffer, appended once.
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 10) { digits in
                var fraction = Int(nanoseconds - seconds * 1_000_000_000)
                for index in stride(from: 8, through: 0, by: -1) {
                    digits[index] = UInt8(ascii: "0") + UInt8(fraction % 10)
                    fraction /= 10
                }
                digits[9] = UInt8(ascii: "Z")
                out.append(contentsOf: UnsafeBufferPointer(digits))
            }
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.` of this time.
    private func formatSecond(to out: inout [UInt8]) {
        var seconds = time_t(nanoseconds.floorDivided(by: 1_000_000_000))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4); out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2); out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2); out.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2); out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2); out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2); out.append(UInt8(ascii: "."))
    }

    /// Parses RFC 3339 (`2026-12-02T07:27:37Z`, an optional fraction of up to 9 digits, `Z` or
    /// an offset `±HH:MM`); nil for anything else.
    public init?(rfc3339 text: String) {
        let bytes = Array(text.utf8)
        var position = 0
        func number(_ count: Int) -> Int? {
            guard position + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[position..<(position + count)] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            position += count
            return value
        }
        func literal(_ characters: String) -> Bool {
            guard position < bytes.count, characters.utf8.contains(bytes[position]) else { return false }
            position += 1
            return true
        }
        guard let year = number(4), literal("-"), let month = number(2), literal("-"), let day = number(2),
              literal("Tt "), let hour = number(2), literal(":"), let minute = number(2), literal(":"), let second = number(2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var fraction: Int64 = 0
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            position += 1
            var digits = 0
            while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
                if digits < 9 { fraction = fraction * 10 + Int64(bytes[position] - UInt8(ascii: "0")) }
                digits += 1
                position += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 9) { fraction *= 10 }
        }
        var offset = 0
        if literal("Zz") {
        } else if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
            let sign = bytes[position] == UInt8(ascii: "-") ? -1 : 1
            position += 1
            guard let hours = number(2), literal(":"), let minutes = number(2) else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard position == bytes.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = Int64(timegm(&parts)) - Int64(offset)
        self.nanoseconds = seconds * 1_000_000_000 + fraction
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an RFC 3339 time: \(text)"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rfc3339)
    }
}

extension Int64 {
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }
}
