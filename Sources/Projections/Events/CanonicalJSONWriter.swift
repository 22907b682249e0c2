import Foundation

/// Writes JSON byte for byte as `JSONEncoder` with `[.sortedKeys, .withoutEscapingSlashes]`
/// writes it, for the two bodies every secret write makes: the sealed value (`{"name":"value",…}`)
/// and its `SecretPut` record body. The encoder's generic machinery was a tenth of the Nexus' CPU
/// per write; this writes the same bytes straight into one buffer (ADR-0020; the tests and the
/// event-body fuzz target compare the two on every input).
///
/// What `JSONEncoder` does, and so what this does: a string is its UTF-8 bytes with `"` and `\`
/// escaped, `\b \t \n \f \r` as such, the other control characters as `\u00xx` (lowercase hex),
/// nothing else escaped (`/` neither: `.withoutEscapingSlashes`); integers in decimal; `Data` as
/// padded base64; an object's keys in `String` order.
public struct CanonicalJSONWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Text the caller knows is JSON already: punctuation and keys.
    public mutating func raw(_ text: StaticString) {
        bytes.append(static: text)
    }

    public mutating func string(_ value: String) {
        var value = value
        bytes.append(UInt8(ascii: "\""))
        value.withUTF8 { utf8 in
            var start = 0
            for index in utf8.indices {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                start = index + 1
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                default:
                    bytes.append(static: "u00")
                    bytes.append(Self.hex[Int(byte >> 4)])
                    bytes.append(Self.hex[Int(byte & 0xF)])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func integer(_ value: some BinaryInteger) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        Self.appendDecimal(UInt64(value.magnitude), to: &bytes)
    }

    /// `[i,j,…]`.
    public mutating func integers(_ values: [Int]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            integer(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// `Data` as `JSONEncoder` writes it: a string of padded standard base64.
    public mutating func base64(_ data: Data) {
        bytes.append(UInt8(ascii: "\""))
        data.withUnsafeBytes { input in
            var index = 0
            while input.count - index >= 3 {
                let triple = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
                appendSextets(triple, count: 4)
                index += 3
            }
            switch input.count - index {
            case 1:
                appendSextets(UInt32(input[index]) << 16, count: 2)
                bytes.append(static: "==")
            case 2:
                appendSextets(UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8, count: 3)
                bytes.append(UInt8(ascii: "="))
            default: break
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// An object of strings, its keys sorted.
    public mutating func object(_ members: [String: String]) {
        bytes.append(UInt8(ascii: "{"))
        for (index, member) in members.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(member.key)
            bytes.append(UInt8(ascii: ":"))
            string(member.value)
        }
        bytes.append(UInt8(ascii: "}"))
    }

    /// The exact size `object(members)` writes. A sealed value's plaintext is reserved this size,
    /// so its buffer never grows: the one wiped once sealed is the only one it had.
    public static func objectSize(_ members: [String: String]) -> Int {
        members.reduce(2 + max(0, members.count - 1)) { $0 + stringSize($1.key) + 1 + stringSize($1.value) }
    }

    /// The size `string(value)` writes.
    static func stringSize(_ value: String) -> Int {
        var size = 2
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x08, 0x09, 0x0A, 0x0C, 0x0D: size += 2
            case ..<0x20: size += 6
            default: size += 1
            }
        }
        return size
    }

    /// Zeroes what was written (a sealed value's plaintext, once sealed).
    public mutating func wipe() {
        _ = bytes.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) }
    }

    /// Appends `value` in decimal.
    public static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 { return out.append(UInt8(ascii: "0") + UInt8(value)) }
        // Written backwards into a stack buffer, appended once.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var rest = value
            var start = 20
            while rest > 0 {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// The top `count` sextets of a 24-bit group, as base64 characters.
    private mutating func appendSextets(_ group: UInt32, count: Int) {
        for shift in stride(from: 18, to: 18 - 6 * count, by: -6) {
            bytes.append(Self.base64Alphabet[Int((group >> UInt32(shift)) & 0x3F)])
        }
    }

    /// Lowercase hex digits (the exporter's HMACs use them too).
    static let hex = Array("0123456789abcdef".utf8)
    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
}
