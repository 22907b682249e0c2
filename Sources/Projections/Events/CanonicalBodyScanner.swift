import Foundation

/// Reads an event body in exactly the form the Nexus writes it (`EventPayload.envelope`: sorted
/// keys, no whitespace, integers, base64 data, strings without escapes), for the event kinds a
/// log holds by the hundred thousand. It accepts a strict subset of what `JSONDecoder` accepts
/// and decodes it to the same values; on anything else (whitespace, an escape, a field it does
/// not expect, a number it cannot hold) it answers nil and the caller decodes with
/// `JSONDecoder`, which decides. So a body that is not canonical is never refused here, only
/// slower (ADR-0019; the event-body fuzz target checks the two agree). The Nexus reads the body
/// of a secret write's request the same way (`SecretPutRequest`, ADR-0020).
public struct CanonicalBodyScanner: ~Copyable {
    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    public var atEnd: Bool { position == bytes.count }

    /// Consumes `text` if the body continues with it.
    public mutating func literal(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard bytes.count - position >= count,
              memcmp(bytes.baseAddress! + position, text.utf8Start, count) == 0 else { return false }
        position += count
        return true
    }

    /// A string without escapes or control characters, valid UTF-8.
    public mutating func string() -> String? {
        guard let range = quoted() else { return nil }
        var ascii = true
        for byte in bytes[range] {
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            ascii = ascii && byte < 0x80
        }
        let text = UnsafeRawBufferPointer(rebasing: bytes[range])
        // ASCII is valid UTF-8 as it is; `String(validating:)` is generic, and its validation was
        // most of a secret read's body decoding.
        return ascii ? String(decoding: text, as: UTF8.self) : String(validating: text, as: UTF8.self)
    }

    /// Base64 with its padding, as `JSONEncoder` writes `Data`.
    public mutating func base64() -> Data? {
        guard let range = quoted() else { return nil }
        return Data(base64Encoded: Data(UnsafeRawBufferPointer(rebasing: bytes[range])))
    }

    /// An integer as JSON writes it (`-`, then `0` or digits without a leading zero), that fits.
    public mutating func integer() -> Int? {
        var index = position
        let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        let first = index
        var magnitude: UInt64 = 0
        while index < bytes.count, case let digit = bytes[index] &- UInt8(ascii: "0"), digit < 10 {
            let (times, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times.addingReportingOverflow(UInt64(digit))
            guard !overflow, !carry else { return nil }
            magnitude = sum
            index += 1
        }
        let digits = index - first
        guard digits > 0, digits == 1 || bytes[first] != UInt8(ascii: "0") else { return nil }
        guard magnitude <= (negative ? UInt64(Int.max) + 1 : UInt64(Int.max)) else { return nil }
        position = index
        return negative ? Int(truncatingIfNeeded: 0 &- magnitude) : Int(magnitude)
    }

    /// `[]` or `[i,j,…]` of integers.
    public mutating func integers() -> [Int]? {
        guard literal("[") else { return nil }
        var values: [Int] = []
        if literal("]") { return values }
        repeat {
            guard let value = integer() else { return nil }
            values.append(value)
        } while literal(",")
        return literal("]") ? values : nil
    }

    /// `{}` or `{"name":"value",…}` of strings as `string()` reads them, in any order; nil on a
    /// name given twice (which of the two `JSONDecoder` keeps is its business).
    public mutating func stringObject() -> [String: String]? {
        guard literal("{") else { return nil }
        var members: [String: String] = [:]
        if literal("}") { return members }
        repeat {
            guard let name = string(), literal(":"), let value = string(), members.updateValue(value, forKey: name) == nil else { return nil }
        } while literal(",")
        return literal("}") ? members : nil
    }

    /// The bytes between a pair of quotes (the body continues after the closing one).
    private mutating func quoted() -> Range<Int>? {
        guard literal("\"") else { return nil }
        let start = position
        guard let end = bytes[start...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        position = end + 1
        return start..<end
    }
}
