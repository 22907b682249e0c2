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

    /// Appends the event as one line of JSON: the header's fields, then what was opened.
    public func appendJSONLine(to out: inout [UInt8], times: inout Timestamp.Writer) {
        EventExporter.appendHeaderFields(sequence: sequence, time: time.nanoseconds, epoch: epoch, kind: kind, to: &out, times: &times)
        if let actorJSON {
            out.append(contentsOf: #","actor":"#.utf8)
            out.append(contentsOf: actorJSON)
        }
        if let trailJSON {
            out.append(contentsOf: #","trail":"#.utf8)
            out.append(contentsOf: trailJSON)
        }
        if let data {
            out.append(contentsOf: #","data":"#.utf8)
            out.append(contentsOf: data)
        }
        out.append(contentsOf: "}\n".utf8)
    }
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
    /// Each known kind's stable name as UTF-8 (back to back, and each kind's span of them) and
    /// its sealed fields' tree, looked up once per event by the kind's number (`KindSlot`):
    /// neither the number hashed nor, for a kind without a sealed field, an object retained.
    private let nameBytes: [UInt8]
    private let nameSpans: [Range<Int>?]
    private let trees: [FieldTree?]

    public init(sealed: SealedFields, opener: (any SealedFieldOpener)? = nil) {
        self.sealed = sealed
        self.opener = opener
        var nameBytes: [UInt8] = []
        var nameSpans = [Range<Int>?](repeating: nil, count: KindSlot.count)
        var trees = [FieldTree?](repeating: nil, count: KindSlot.count)
        for kind in EventVocabulary.kinds {
            let slot = KindSlot(kind.number)!.index
            nameSpans[slot] = nameBytes.count..<(nameBytes.count + kind.name.utf8.count)
            nameBytes += kind.name.utf8
            let fields = EventVocabulary.sealedFields(number: kind.number)
            if !fields.isEmpty { trees[slot] = FieldTree(paths: fields) }
        }
        (self.nameBytes, self.nameSpans, self.trees) = (nameBytes, nameSpans, trees)
    }

    private func tree(of kind: UInt16) -> FieldTree? {
        KindSlot(kind).flatMap { trees[$0.index] }
    }

    /// Calls `body` with the kind's name as UTF-8.
    private func withName<T>(of kind: UInt16, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        if let slot = KindSlot(kind), let span = nameSpans[slot.index] {
            return nameBytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[span])) }
        }
        return Array(EventVocabulary.name(of: kind).utf8).withUnsafeBytes(body)
    }

    /// The header's part of an event (what `--headers-only` exports).
    public static func headerOnly(_ header: RecordHeader) -> ExportedEvent {
        ExportedEvent(sequence: header.sequence, time: Timestamp(nanoseconds: header.time), epoch: header.epoch, kindNumber: header.kind)
    }

    /// The whole event; throws when the body is not the envelope every event body is.
    public func export(_ header: RecordHeader, body: UnsafeRawBufferPointer) throws(EventDecodingError) -> ExportedEvent {
        var event = Self.headerOnly(header)
        let envelope = try Self.envelope(of: body, kind: header.kind)
        var scanner = JSONText(body)
        event.actorJSON = ArraySlice(scanner.slice(envelope.actor))
        event.trailJSON = ArraySlice(scanner.slice(envelope.trail))
        var out: [UInt8] = []
        out.reserveCapacity(envelope.data.count)
        do {
            scanner = scanner.sub(envelope.data)
            try redact(&scanner, tree: tree(of: header.kind), path: "", out: &out, event: &event, top: true, body: body, epoch: header.epoch)
        } catch {
            throw EventDecodingError(kind: event.kind, reason: "the body's data is not a JSON object")
        }
        event.data = out[...]
        return event
    }

    /// Appends the event's JSON line (what `export` gives, as `spike log export` writes it) to
    /// `out` straight from the body: no value is built, and the `data` of a kind with no sealed
    /// field is copied as one span.
    public func appendJSONLine(_ header: RecordHeader, body: UnsafeRawBufferPointer, to out: inout [UInt8],
                               times: inout Timestamp.Writer) throws(EventDecodingError) {
        let envelope = try Self.envelope(of: body, kind: header.kind)
        withName(of: header.kind) { name in
            Self.appendHeaderFields(sequence: header.sequence, time: header.time, epoch: header.epoch, kind: name, to: &out, times: &times)
        }
        out.append(static: Self.actorKey)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[envelope.actor]))
        out.append(static: Self.trailKey)
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[envelope.trail]))
        out.append(static: Self.dataKey)
        if let tree = tree(of: header.kind) {
            var event = Self.headerOnly(header)
            var scanner = JSONText(UnsafeRawBufferPointer(rebasing: body[envelope.data]))
            do {
                try redact(&scanner, tree: tree, path: "", out: &out, event: &event, top: false, body: body, epoch: header.epoch)
            } catch {
                throw EventDecodingError(kind: EventVocabulary.name(of: header.kind), reason: "the body's data is not a JSON object")
            }
        } else {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: body[envelope.data]))
        }
        out.append(UInt8(ascii: "}"))
        out.append(UInt8(ascii: "\n"))
    }

    // Static text, appended without a retain or a lazy global's check per event.
    private static let actorKey: StaticString = #","actor":"#, trailKey: StaticString = #","trail":"#, dataKey: StaticString = #","data":"#
    private static let sequenceKey: StaticString = #"{"sequence":"#, timeKey: StaticString = #","time":""#
    private static let epochKey: StaticString = #"","epoch":"#, kindKey: StaticString = #","kind":""#

    /// `{"sequence":…,"time":"…","epoch":…,"kind":"…"`: the start of every JSON line, and all of a
    /// headers-only one but its closing brace.
    static func appendHeaderFields(sequence: UInt64, time: Int64, epoch: UInt32, kind: String, to out: inout [UInt8],
                                   times: inout Timestamp.Writer) {
        Array(kind.utf8).withUnsafeBytes { appendHeaderFields(sequence: sequence, time: time, epoch: epoch, kind: $0, to: &out, times: &times) }
    }

    static func appendHeaderFields(sequence: UInt64, time: Int64, epoch: UInt32, kind: UnsafeRawBufferPointer, to out: inout [UInt8],
                                   times: inout Timestamp.Writer) {
        out.append(static: sequenceKey)
        CanonicalJSONWriter.appendDecimal(sequence, to: &out)
        out.append(static: timeKey)
        times.write(time, to: &out)
        out.append(static: epochKey)
        CanonicalJSONWriter.appendDecimal(UInt64(epoch), to: &out)
        out.append(static: kindKey)
        out.append(contentsOf: kind)
        out.append(UInt8(ascii: "\""))
    }

    /// The spans of the envelope's `actor`, `trail` (JSON strings) and `data` (an object).
    private static func envelope(of body: UnsafeRawBufferPointer, kind number: UInt16) throws(EventDecodingError)
        -> (actor: Range<Int>, trail: Range<Int>, data: Range<Int>) {
        if let spans = writtenEnvelope(of: body) { return spans }
        let kind = EventVocabulary.name(of: number)
        var scanner = JSONText(body)
        var actor: Range<Int>?, trail: Range<Int>?, data: Range<Int>?
        do {
            try scanner.members { key, value, scanner in
                if scanner.is(key, "actor") { actor = value } else if scanner.is(key, "trail") { trail = value } else if scanner.is(key, "data") { data = value }
            }
        } catch {
            throw EventDecodingError(kind: kind, reason: "the body is not an event envelope (byte \(scanner.position))")
        }
        guard let actor, let trail, let data, body[actor.lowerBound] == UInt8(ascii: "\""), body[trail.lowerBound] == UInt8(ascii: "\""),
              body[data.lowerBound] == UInt8(ascii: "{") else {
            throw EventDecodingError(kind: kind, reason: "the body is not an event envelope (it lacks an actor, a trail or a data object)")
        }
        return (actor, trail, data)
    }

    /// The envelope's spans when the body has exactly the shape the Nexus writes (sorted keys, no
    /// spaces): `{"actor":"…","data":{…},"trail":"…"}`. The actor is found from the front and the
    /// trail from the back, so the data object is not scanned at all; nil for any other shape
    /// (which the general scanner then reads, or refuses).
    static func writtenEnvelope(of body: UnsafeRawBufferPointer) -> (actor: Range<Int>, trail: Range<Int>, data: Range<Int>)? {
        func holds(_ text: StaticString, at offset: Int) -> Bool {
            offset >= 0 && offset + text.utf8CodeUnitCount <= body.count
                && memcmp(body.baseAddress! + offset, text.utf8Start, text.utf8CodeUnitCount) == 0
        }
        guard body.count > 32, holds(envelopeStart, at: 0), body[body.count - 1] == UInt8(ascii: "}"),
              body[body.count - 2] == UInt8(ascii: "\""),
              let actorEnd = JSONText.closingQuote(in: body, from: envelopeStart.utf8CodeUnitCount) else { return nil }
        let actor = (envelopeStart.utf8CodeUnitCount - 1)..<(actorEnd + 1)
        let dataStart = actor.upperBound + dataKey.utf8CodeUnitCount
        guard holds(dataKey, at: actor.upperBound), dataStart < body.count, body[dataStart] == UInt8(ascii: "{") else { return nil }
        // The trail's opening quote: the last quote before the closing one that is not escaped.
        let trailEnd = body.count - 2
        var opening = trailEnd - 1
        while opening > dataStart {
            if body[opening] == UInt8(ascii: "\"") {
                var backslashes = 0
                while body[opening - backslashes - 1] == UInt8(ascii: "\\") { backslashes += 1 }
                if backslashes % 2 == 0 { break }
            }
            opening -= 1
        }
        let trailKeyStart = opening - trailKey.utf8CodeUnitCount
        guard opening > dataStart, trailKeyStart > dataStart, holds(trailKey, at: trailKeyStart),
              body[trailKeyStart - 1] == UInt8(ascii: "}") else { return nil }
        return (actor, opening..<(trailEnd + 1), dataStart..<trailKeyStart)
    }

    private static let envelopeStart: StaticString = #"{"actor":""#

    /// Copies the object `scanner` is at into `out`, replacing or dropping the fields `tree`
    /// names; at the top level it also picks out `path` and `keeper` for the filters.
    private func redact(_ scanner: inout JSONText, tree: FieldTree?, path: String, out: inout [UInt8], event: inout ExportedEvent,
                        top: Bool, body: UnsafeRawBufferPointer, epoch: UInt32) throws {
        out.append(UInt8(ascii: "{"))
        var first = true
        try scanner.members { keySpan, value, scanner in
            if top {
                if scanner.is(keySpan, "path") { event.path = JSONText.string(scanner.slice(value)) }
                if scanner.is(keySpan, "keeper") { event.keeper = Int(String(decoding: scanner.slice(value), as: UTF8.self)) }
            }
            let node = tree?.child(keySpan, in: scanner)
            if let node, node.isSealed {
                guard case .hmac(let hmacKey) = sealed else { return }
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                let key = scanner.key(keySpan)
                let fieldPath = path.isEmpty ? key : path + "." + key
                let subject = opener?.clearValue(of: fieldPath, kind: event.kindNumber, body: body, epoch: epoch) ?? Array(scanner.slice(value))
                out.append(UInt8(ascii: "\""))
                out.append(contentsOf: key.utf8)
                out.append(contentsOf: #"":"hmac-sha256:"#.utf8)
                for byte in HMAC<SHA256>.authenticationCode(for: subject, using: hmacKey) {
                    out.append(CanonicalJSONWriter.hex[Int(byte >> 4)])
                    out.append(CanonicalJSONWriter.hex[Int(byte & 0xF)])
                }
                out.append(UInt8(ascii: "\""))
                return
            }
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(contentsOf: scanner.slice((keySpan.lowerBound - 1)..<(keySpan.upperBound + 1)))
            out.append(UInt8(ascii: ":"))
            let opening = scanner.byte(at: value.lowerBound)
            guard let node, opening == UInt8(ascii: "{") || opening == UInt8(ascii: "[") else {
                out.append(contentsOf: scanner.slice(value))
                return
            }
            let key = scanner.key(keySpan)
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
}

/// The sealed field paths of one kind as a tree (`next.passwordWraps.salt`: next → passwordWraps
/// → salt), so that the scan descends only where something is sealed.
final class FieldTree: Sendable {
    /// A kind has a handful of sealed fields: a linear search by the key's bytes beats hashing a
    /// String made for each member scanned.
    let children: [(name: [UInt8], tree: FieldTree)]
    private let lengths: [Int]
    let isSealed: Bool

    init(paths: [String], sealed: Bool = false) {
        isSealed = sealed
        var groups: [String: [String]] = [:]
        var leaves = Set<String>()
        for path in paths {
            let parts = path.split(separator: ".", maxSplits: 1).map(String.init)
            if parts.count == 1 { leaves.insert(parts[0]) } else { groups[parts[0], default: []].append(parts[1]) }
        }
        var children: [(name: [UInt8], tree: FieldTree)] = leaves.sorted().map { (Array($0.utf8), FieldTree(paths: [], sealed: true)) }
        for (name, rest) in groups.sorted(by: { $0.key < $1.key }) where !leaves.contains(name) {
            children.append((Array(name.utf8), FieldTree(paths: rest)))
        }
        self.children = children
        lengths = children.map(\.name.count)
    }

    /// The child named by the key at `span` of `scanner`'s text.
    func child(_ span: Range<Int>, in scanner: JSONText) -> FieldTree? {
        // Most keys scanned name no sealed field: the lengths (no reference counting) rule them out.
        guard let first = lengths.firstIndex(of: span.count) else { return nil }
        for index in first..<children.count where lengths[index] == span.count {
            let equal = children[index].name.withUnsafeBytes { memcmp(scanner.bytes.baseAddress! + span.lowerBound, $0.baseAddress!, span.count) == 0 }
            if equal { return children[index].tree }
        }
        return nil
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
    func key(_ span: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[span]), as: UTF8.self) }

    /// Whether the key at `span` is `name` (keys the Nexus writes have no escapes).
    func `is`(_ span: Range<Int>, _ name: StaticString) -> Bool {
        span.count == name.utf8CodeUnitCount && memcmp(bytes.baseAddress! + span.lowerBound, name.utf8Start, span.count) == 0
    }

    /// The bytes at `range`, borrowed: valid as long as the text is (copying each member the
    /// export appends cost more than its formatting).
    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[range]) }
    func sub(_ range: Range<Int>) -> JSONText { JSONText(UnsafeRawBufferPointer(rebasing: bytes[range])) }

    /// Calls `body` with the span of each member's key (inside its quotes) and of its value, in
    /// order.
    mutating func members(_ body: (Range<Int>, Range<Int>, inout JSONText) throws -> Void) throws {
        skipSpace()
        try expect(UInt8(ascii: "{"))
        skipSpace()
        if peek() == UInt8(ascii: "}") { position += 1; return }
        while true {
            skipSpace()
            let keySpan = try stringSpan()
            skipSpace()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            let value = try valueSpan()
            try body((keySpan.lowerBound + 1)..<(keySpan.upperBound - 1), value, &self)
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
        if let end = Self.closingQuote(in: bytes, from: position) {
            position = end + 1
            return start..<position
        }
        throw Malformed(at: start)
    }

    /// The index of the quote that closes a string whose text starts at `from`: the next quote
    /// not escaped (preceded by an even number of backslashes), found with `memchr`.
    static func closingQuote(in bytes: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        var index = from
        while index < bytes.count, let found = memchr(base + index, 0x22, bytes.count - index) {
            let quote = base.distance(to: UnsafeRawPointer(found))
            var backslashes = 0
            while quote - backslashes - 1 >= from, bytes[quote - backslashes - 1] == UInt8(ascii: "\\") { backslashes += 1 }
            if backslashes % 2 == 0 { return quote }
            index = quote + 1
        }
        return nil
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
    static func string(_ token: some BidirectionalCollection<UInt8>) -> String? {
        guard token.count >= 2, token.first == UInt8(ascii: "\""), token.last == UInt8(ascii: "\"") else { return nil }
        let inner = token.dropFirst().dropLast()
        if !inner.contains(UInt8(ascii: "\\")) { return String(decoding: inner, as: UTF8.self) }
        return try? JSONDecoder().decode(String.self, from: Data(token))
    }
}

extension Array where Element == UInt8 {
    /// Appends static text's UTF-8 bytes.
    @inline(__always) mutating func append(static text: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}
