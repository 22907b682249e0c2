/// The little of the protobuf wire format the Workload API's messages need: varints and
/// length-delimited fields (strings, bytes, messages, map entries), skipping fields it does not
/// know as every protobuf reader must. Hand-written, so the SPIFFE library depends on no
/// protobuf runtime or generated code for four small messages (docs/adr/0003).
enum ProtobufWire {
    enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    struct DecodingError: Error, CustomStringConvertible {
        let description: String
    }

    struct Writer {
        private(set) var bytes: [UInt8] = []

        mutating func varint(_ value: UInt64) {
            var value = value
            while value >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
                value >>= 7
            }
            bytes.append(UInt8(value))
        }

        mutating func key(_ field: Int, _ type: WireType) {
            varint(UInt64(field) << 3 | UInt64(type.rawValue))
        }

        /// A length-delimited field; proto3 leaves empty scalars out.
        mutating func bytes(_ field: Int, _ value: [UInt8], always: Bool = false) {
            guard always || !value.isEmpty else { return }
            key(field, .lengthDelimited)
            varint(UInt64(value.count))
            bytes.append(contentsOf: value)
        }

        mutating func string(_ field: Int, _ value: String) {
            bytes(field, Array(value.utf8))
        }

        mutating func message(_ field: Int, _ value: [UInt8]) {
            bytes(field, value, always: true)
        }

        /// A `map<string, bytes>` entry.
        mutating func mapEntry(_ field: Int, key: String, value: [UInt8]) {
            var entry = Writer()
            entry.string(1, key)
            entry.bytes(2, value)
            message(field, entry.bytes)
        }
    }

    struct Reader {
        private let bytes: [UInt8]
        private var position = 0

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
        }

        var isAtEnd: Bool { position >= bytes.count }

        mutating func varint() throws(DecodingError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard position < bytes.count else { throw DecodingError(description: "truncated varint") }
                let byte = bytes[position]
                position += 1
                guard shift < 64 else { throw DecodingError(description: "varint longer than 10 bytes") }
                result |= UInt64(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
        }

        /// The next field's number and wire type, or nil at the end.
        mutating func field() throws(DecodingError) -> (number: Int, type: WireType)? {
            guard !isAtEnd else { return nil }
            let key = try varint()
            guard let type = WireType(rawValue: UInt8(key & 7)) else {
                throw DecodingError(description: "unsupported wire type \(key & 7)")
            }
            guard key >> 3 > 0, key >> 3 <= UInt64(Int32.max) else { throw DecodingError(description: "invalid field number") }
            return (Int(key >> 3), type)
        }

        mutating func lengthDelimited() throws(DecodingError) -> [UInt8] {
            let length = try varint()
            guard length <= UInt64(bytes.count - position) else {
                throw DecodingError(description: "a \(length)-byte field runs past the end of the message")
            }
            defer { position += Int(length) }
            return Array(bytes[position..<(position + Int(length))])
        }

        mutating func string() throws(DecodingError) -> String {
            let raw = try lengthDelimited()
            guard let text = String(validating: raw, as: UTF8.self) else { throw DecodingError(description: "a string is not UTF-8") }
            return text
        }

        /// Skips a field this reader does not know.
        mutating func skip(_ type: WireType) throws(DecodingError) {
            switch type {
            case .varint: _ = try varint()
            case .lengthDelimited: _ = try lengthDelimited()
            case .fixed64, .fixed32:
                let size = type == .fixed64 ? 8 : 4
                guard bytes.count - position >= size else { throw DecodingError(description: "truncated fixed field") }
                position += size
            }
        }

        /// Reads a `map<string, bytes>` entry.
        mutating func mapEntry() throws(DecodingError) -> (String, [UInt8]) {
            var entry = Reader(try lengthDelimited())
            var key = ""
            var value: [UInt8] = []
            while let (number, type) = try entry.field() {
                switch (number, type) {
                case (1, .lengthDelimited): key = try entry.string()
                case (2, .lengthDelimited): value = try entry.lengthDelimited()
                default: try entry.skip(type)
                }
            }
            return (key, value)
        }
    }
}
