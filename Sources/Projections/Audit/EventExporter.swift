import Crypto
import EventLog
import Foundation

/// One event as `spike log export` writes it: the clear header's facts and, when the body was
/// opened, who acted, the trail and the body's fields with every sealed field replaced by an
/// HMAC or left out (never in clear).
public struct ExportedEvent: Sendable {
    public var sequence: UInt64
    public var time: Timestamp
    public var epoch: UInt32
    public var kindNumber: UInt16
    /// The actor and trail as the JSON strings the body holds (quotes and escapes included).
    public var actorJSON: ArraySlice<UInt8>?
    public var trailJSON: ArraySlice<UInt8>?
    /// The body's `data` object, redacted, as JSON text.
    public var data: ArraySlice<UInt8>?
    public var path: String?
    public var keeper: Int?

    public var kind: String { EventVocabulary.name(of: kindNumber) }
    public var actor: String? { actorJSON.flatMap(JSONText.string) }
    public var trail: String? { trailJSON.flatMap(JSONText.string) }
}

/// Opens a sealed field to its clear bytes (a secret's values, a share), for an HMAC that is
/// the same for equal values; nil when it cannot (its key was destroyed, another epoch's).
public protocol SealedFieldOpener: Sendable {
    func clearValue(of field: String, kind: UInt16, body: UnsafeRawBufferPointer, epoch: UInt32) -> [UInt8]?
}

/// Turns record bodies into `ExportedEvent`s. The body is the JSON the Nexus wrote (sorted keys,
/// no spaces, `docs/log-format.md`); it is scanned, not decoded into objects, so that an export
/// keeps up with a replay. The sealed fields of each kind are the vocabulary's
/// (`EventPayload.sealedFields`); each is replaced by `hmac-sha256:<hex>` under the HMAC key (of
/// the clear value when an opener can open it, else of the sealed bytes), or left out.
public struct EventExporter: Sendable {
    public enum SealedFields: Sendable {
        case omit
        case hmac(SymmetricKey)
    }

    let sealed: SealedFields
    let opener: (any SealedFieldOpener)?
    private let trees: [UInt16: FieldTree]

    public init(sealed: SealedFields, opener: (any SealedFieldOpener)? = nil) {
        self.sealed = sealed
        self.opener = opener
        var trees: [UInt16: FieldTree] = [:]
        for kind in EventVocabulary.kinds {
            let fields = EventVocabulary.sealedFields(number: kind.number)
            if !fields.isEmpty { trees[kind.number] = FieldTree(paths: fields) }
        }
        self.trees = trees
    }

    /// The header's part of an event (what `--headers-only` exports).
    public static func headerOnly(_ header: RecordHeader) -> ExportedEvent {
        ExportedEvent(sequence: header.sequence, time: Timestamp(nanoseconds: header.time), epoch: header.epoch, kindNumber: header.kind)
    }

    /// The whole event; throws when the body is not the envelope every event body is.
    public func export(_ header: RecordHeader, body: UnsafeRawBufferPointer) throws(EventDecodingError) -> ExportedEvent {
        var event = Self.headerOnly(header)
        var scanner = JSONText(body)
        do {
            var dataSpan: Range<Int>?
            try scanner.members { key, value, scanner in
                switch key {
                case "actor": event.actorJSON = scanner.slice(value)
                case "trail": event.trailJSON = scanner.slice(value)
                case "data": dataSpan = value
                default: break
                }
            }
            guard let dataSpan, body[dataSpan.lowerBound] == UInt8(ascii: "{") else { throw JSONText.Malformed(at: 0) }
            var out: [UInt8] = []
            out.reserveCapacity(dataSpan.count)
            var inner = JSONText(UnsafeRawBufferPointer(rebasing: body[dataSpan]))
            try redact(&inner, tree: trees[header.kind], path: "", out: &out, event: &event, top: true, body: body, epoch: header.epoch)
            event.data = out[...]
        } catch {
            throw EventDecodingError(kind: event.kind, reason: "the body is not an event envelope (byte \(scanner.position))")
        }
        return event
    }

    /// Copies the object `scanner` is at into `out`, replacing or dropping the fields `tree`
    /// names; at the top level it also picks out `path` and `keeper` for the filters.
    private func redact(_ scanner: inout JSONText, tree: FieldTree?, path: String, out: inout [UInt8], event: inout ExportedEvent,
                        top: Bool, body: UnsafeRawBufferPointer, epoch: UInt32) throws {
        out.append(UInt8(ascii: "{"))
        var first = true
        try scanner.members { key, value, scanner in
            if top {
                if key == "path" { event.path = JSONText.string(scanner.slice(value)) }
                if key == "keeper" { event.keeper = Int(String(decoding: scanner.slice(value), as: UTF8.self)) }
            }
            let node = tree?.children[key]
            if let node, node.isSealed {
                guard case .hmac(let hmacKey) = sealed else { return }
                let fieldPath = path.isEmpty ? key : path + "." + key
                let subject = opener?.clearValue(of: fieldPath, kind: event.kindNumber, body: body, epoch: epoch) ?? Array(scanner.slice(value))
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: key.utf8)
                out.append(contentsOf: #"":"hmac-sha256:"#.utf8)
                for byte in HMAC<SHA256>.authenticationCode(for: subject, using: hmacKey) {
                    out.append(Self.hex[Int(byte >> 4)])
                    out.append(Self.hex[Int(byte & 0xF)])
                }
                out.append(UInt8(ascii: "\""))
                return
            }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: key.utf8)
            out.append(contentsOf: #"":"#.utf8)
            let opening = scanner.byte(at: value.lowerBound)
            guard let node, opening == UInt8(ascii: "{") || opening == UInt8(ascii: "[") else {
                out.append(contentsOf: scanner.slice(value))
                return
            }
            let fieldPath = path.isEmpty ? key : path + "." + key
            var inner = scanner.sub(value)
            if opening == UInt8(ascii: "{") {
                try redact(&inner, tree: node, path: fieldPath, out: &out, event: &event, top: false, body: body, epoch: epoch)
            } else {
                // An array of objects (the wraps of an epoch): each element is redacted alike.
                out.append(UInt8(ascii: "["))
                var firstElement = true
                try inner.elements { element, inner in
                    if !firstElement { out.append(UInt8(ascii: ",")) }
                    firstElement = false
                    if inner.byte(at: element.lowerBound) == UInt8(ascii: "{") {
                        var object = inner.sub(element)
                        try redact(&object, tree: node, path: fieldPath, out: &out, event: &event, top: false, body: body, epoch: epoch)
                    } else {
                        out.append(contentsOf: inner.slice(element))
                    }
                }
                out.append(UInt8(ascii: "]"))
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    private static let hex = Array("0123456789abcdef".utf8)
}

/// The sealed field paths of one kind as a tree (`next.passwordWraps.salt`: next → passwordWraps
/// → salt), so that the scan descends only where something is sealed.
final class FieldTree: Sendable {
    let children: [String: FieldTree]
    let isSealed: Bool

    init(paths: [String], sealed: Bool = false) {
        isSealed = sealed
        var groups: [String: [String]] = [:]
        var leaves = Set<String>()
        for path in paths {
            let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
            if parts.count == 1 { leaves.insert(parts[0]) } else { groups[parts[0], default: []].append(parts[1]) }
        }
        var children: [String: FieldTree] = [:]
        for leaf in leaves { children[leaf] = FieldTree(paths: [], sealed: true) }
        for (name, rest) in groups where children[name] == nil { children[name] = FieldTree(paths: rest) }
        self.children = children
    }
}

/// A scanner over JSON text as the Nexus writes it: spans of members and elements, without
/// building values.
struct JSONText {
    struct Malformed: Error { let at: Int }

    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func byte(at index: Int) -> UInt8 { bytes[index] }
    func slice(_ range: Range<Int>) -> ArraySlice<UInt8> { ArraySlice(UnsafeRawBufferPointer(rebasing: bytes[range])) }
    func sub(_ range: Range<Int>) -> JSONText { JSONText(UnsafeRawBufferPointer(rebasing: bytes[range])) }

    /// Calls `body` with each member's key and the span of its value, in order.
    mutating func members(_ body: (String, Range<Int>, inout JSONText) throws -> Void) throws {
        skipSpace()
        try expect(UInt8(ascii: "{"))
        skipSpace()
        if peek() == UInt8(ascii: "}") { position += 1; return }
        while true {
            skipSpace()
            let keySpan = try stringSpan()
            let key = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(keySpan.lowerBound + 1)..<(keySpan.upperBound - 1)]), as: UTF8.self)
            skipSpace()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            let value = try valueSpan()
            try body(key, value, &self)
            skipSpace()
            if peek() == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "}"))
            return
        }
    }

    /// Calls `body` with the span of each element of the array at the position.
    mutating func elements(_ body: (Range<Int>, inout JSONText) throws -> Void) throws {
        skipSpace()
        try expect(UInt8(ascii: "["))
        skipSpace()
        if peek() == UInt8(ascii: "]") { position += 1; return }
        while true {
            skipSpace()
            let value = try valueSpan()
            try body(value, &self)
            skipSpace()
            if peek() == UInt8(ascii: ",") { position += 1; continue }
            try expect(UInt8(ascii: "]"))
            return
        }
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func expect(_ byte: UInt8) throws {
        guard peek() == byte else { throw Malformed(at: position) }
        position += 1
    }

    private mutating func skipSpace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    private mutating func stringSpan() throws -> Range<Int> {
        let start = position
        try expect(UInt8(ascii: "\""))
        while let byte = peek() {
            position += 1
            if byte == UInt8(ascii: "\\") { position += 1 } else if byte == UInt8(ascii: "\"") { return start..<position }
        }
        throw Malformed(at: start)
    }

    private mutating func valueSpan() throws -> Range<Int> {
        let start = position
        guard let first = peek() else { throw Malformed(at: position) }
        switch first {
        case UInt8(ascii: "\""):
            return try stringSpan()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while let byte = peek() {
                if byte == UInt8(ascii: "\"") { _ = try stringSpan(); continue }
                position += 1
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
                if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { return start..<position }
                }
            }
            throw Malformed(at: start)
        default:
            while let byte = peek(), byte != UInt8(ascii: ","), byte != UInt8(ascii: "}"), byte != UInt8(ascii: "]"),
                  byte != 0x20, byte != 0x0A, byte != 0x0D, byte != 0x09 {
                position += 1
            }
            guard position > start else { throw Malformed(at: start) }
            return start..<position
        }
    }

    /// The value of a JSON string token (quotes included); nil when it is not one.
    static func string(_ token: ArraySlice<UInt8>) -> String? {
        guard token.count >= 2, token.first == UInt8(ascii: "\""), token.last == UInt8(ascii: "\"") else { return nil }
        let inner = token.dropFirst().dropLast()
        if !inner.contains(UInt8(ascii: "\\")) { return String(decoding: inner, as: UTF8.self) }
        return try? JSONDecoder().decode(String.self, from: Data(token))
    }
}
