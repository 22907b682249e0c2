import Crypto
import EventLog
import Foundation
import Projections

/// The event body decoders: the Codable decoding that replay and recovery use, the canonical
/// reader in front of it, and the exporter's JSON scanner (`spike log export`, which reads
/// bodies without decoding them). The first two input bytes choose the kind (most often one the
/// vocabulary knows), the rest is the body. What must hold: no crash on any body; wherever the
/// canonical reader answers, `JSONDecoder` decodes the same event; the canonical reader answers
/// for what the Nexus writes; a kind's own writer (`CanonicalJSONWriter`) writes the bytes
/// `JSONEncoder` writes; a body that decodes re-encodes to an event that decodes equal; the
/// export of what the Nexus would write is one JSON object per line with no sealed field in it.
public struct EventBodyFuzzTarget: FuzzTarget {
    public static let name = "event-body"

    private let omitting = EventExporter(sealed: .omit)
    private let hashing = EventExporter(sealed: .hmac(SymmetricKey(data: [UInt8](repeating: 7, count: 32))))
    private let kinds = EventVocabulary.kinds.map(\.number)

    public init() {}

    /// An envelope of every known kind, its data empty (most need fields: the fuzzer finds them).
    public static func seeds() -> [[UInt8]] {
        let empty = EventVocabulary.kinds.indices.map { index in
            [0, UInt8(index)] + Array(#"{"actor":"spiffe://spike.ist/spike/nexus","data":{"epoch":1,"at":1},"trail":"abcd1234"}"#.utf8)
        }
        // Secret writes as the Nexus writes them, for the canonical reader.
        let secretPut = UInt8(EventVocabulary.kinds.firstIndex(of: SecretPut.kind)!)
        let puts = [
            SecretPut(path: "apps/db/creds", version: 1, keyID: Data(repeating: 7, count: 17), sealedValue: Data(repeating: 9, count: 40),
                      maxVersions: 10, pruned: [], at: 1_764_806_400_000, epoch: 2),
            SecretPut(path: "équipe/clé", version: 12, keyID: Data([1, 2]), sealedValue: Data(), maxVersions: 3, pruned: [8, 9], at: -1),
        ].map { [0, secretPut] + DomainEvent(actor: "spiffe://spike.ist/spike/pilot/role/superuser", trail: "t1", $0).encoded() }
        return empty + puts
    }

    public func run(_ input: [UInt8]) throws(FuzzFinding) {
        guard input.count >= 2 else { return }
        let kind = input[0] & 0x80 == 0 ? kinds[Int(input[1]) % kinds.count] : UInt16(input[0] & 0x7f) << 8 | UInt16(input[1])
        let body = Array(input[2...])

        // Whatever the bytes, the exporter answers or throws.
        for exporter in [omitting, hashing] {
            _ = try? line(exporter, kind: kind, body: body)
        }

        if let fast = DomainEvent.decodeCanonical(kind: kind, body: body) {
            let general: DomainEvent?
            do {
                general = try DomainEvent.decodeWithJSONDecoder(kind: kind, body: body)
            } catch {
                throw FuzzFinding(Self.name, "the canonical reader read a \(fast.kind.name) that JSONDecoder refuses: \(error)")
            }
            guard general == fast else { throw FuzzFinding(Self.name, "the canonical reader and JSONDecoder read a \(fast.kind.name) differently") }
        }

        let decoded: DomainEvent?
        do {
            decoded = try DomainEvent.decode(kind: kind, body: body)
        } catch {
            return
        }
        guard let event = decoded else { return }
        let canonical = event.encoded()
        if canonical != event.payload.envelopeWithJSONEncoder(actor: event.actor, trail: event.trail) {
            throw FuzzFinding(Self.name, "a \(event.kind.name)'s own writer and JSONEncoder wrote different bodies")
        }
        if event.kind == SecretPut.kind, !canonical.contains(UInt8(ascii: "\\")), DomainEvent.decodeCanonical(kind: kind, body: canonical) == nil {
            throw FuzzFinding(Self.name, "the canonical reader deferred on a SecretPut as the Nexus writes it")
        }
        let again: DomainEvent?
        do {
            again = try DomainEvent.decode(kind: kind, body: canonical)
        } catch {
            throw FuzzFinding(Self.name, "a decoded \(event.kind.name) re-encoded to a body that does not decode: \(error)")
        }
        guard again == event else { throw FuzzFinding(Self.name, "a decoded \(event.kind.name) changed through encode and decode") }

        let sealed = EventVocabulary.sealedFields(number: kind).map { $0.split(separator: ".").map(String.init) }
        for (exporter, omits) in [(omitting, true), (hashing, false)] {
            let text: [UInt8]
            do {
                text = try line(exporter, kind: kind, body: canonical)
            } catch {
                throw FuzzFinding(Self.name, "the export of a \(event.kind.name) the Nexus would write failed: \(error)")
            }
            guard text.last == UInt8(ascii: "\n"), text.dropLast().firstIndex(of: UInt8(ascii: "\n")) == nil,
                  let object = try? JSONSerialization.jsonObject(with: Data(text.dropLast())) as? [String: Any],
                  let data = object["data"] as? [String: Any] else {
                throw FuzzFinding(Self.name, "the export of a \(event.kind.name) is not one JSON object on one line")
            }
            for path in sealed where omits {
                if Self.value(at: path, in: data) { throw FuzzFinding(Self.name, "the export of a \(event.kind.name) holds the sealed field \(path.joined(separator: "."))") }
            }
        }
    }

    private func line(_ exporter: EventExporter, kind: UInt16, body: [UInt8]) throws -> [UInt8] {
        let header = RecordHeader(type: .event, kind: kind, epoch: 1, sequence: 2, time: 1_700_000_000_000_000_000, segment: 1,
                                  previousHash: ChainHash(bytes: [UInt8](repeating: 0, count: ChainHash.size))!,
                                  bodyLength: UInt32(body.count))
        var out: [UInt8] = []
        var times = Timestamp.Writer()
        try body.withUnsafeBytes { bytes in
            try exporter.appendJSONLine(header, body: bytes, to: &out, times: &times)
            // The value form (`spike log audit` and `--format csv` read it) must agree it is an event.
            _ = try exporter.export(header, body: bytes)
        }
        return out
    }

    /// Whether a dotted path names a value in the object (an array's elements share its path).
    private static func value(at path: [String], in object: Any) -> Bool {
        guard let first = path.first else { return true }
        if let array = object as? [Any] { return array.contains { value(at: path, in: $0) } }
        guard let dictionary = object as? [String: Any], let next = dictionary[first] else { return false }
        return value(at: Array(path.dropFirst()), in: next)
    }
}
