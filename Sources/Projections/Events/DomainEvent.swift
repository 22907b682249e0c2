import Foundation

/// One event of the system's vocabulary (DESIGN §5) as it is stored in a record body: who acted
/// (a SPIFFE ID), the request or trail it belongs to, and what happened. The record header's
/// kind says which payload follows; bodies are JSON so that exports and audits read them as is.
/// Key material inside a payload is always sealed (`SealedShard`, `PasswordWrap`).
public struct DomainEvent: Equatable, Sendable {
    public var actor: String
    public var trail: String
    public var payload: any EventPayload

    public init(actor: String, trail: String, _ payload: any EventPayload) {
        self.actor = actor
        self.trail = trail
        self.payload = payload
    }

    public var kind: EventKind { type(of: payload).kind }

    /// The record body: `{"actor":…,"data":{…},"trail":…}` with sorted keys.
    public func encoded() -> [UInt8] { payload.envelope(actor: actor, trail: trail) }

    /// Decodes a record body of kind number `kind`; nil for a kind this vocabulary does not
    /// know (the caller decides, by `EventKind.effect(ofNumber:)`, whether it may skip it).
    /// A body in the form the Nexus writes is read by `decodeCanonical`, any other by `JSONDecoder`.
    public static func decode(kind: UInt16, body: some Collection<UInt8>) throws(EventDecodingError) -> DomainEvent? {
        if let event = decodeCanonical(kind: kind, body: body) { return event }
        return try decodeWithJSONDecoder(kind: kind, body: body)
    }

    /// The two decoders on their own (the fuzz target checks they agree): the canonical reader,
    /// nil where it defers, and `JSONDecoder`.
    public static func decodeCanonical(kind: UInt16, body: some Collection<UInt8>) -> DomainEvent? {
        guard let type = EventVocabulary.payloadType(number: kind) else { return nil }
        return body.withContiguousStorageIfAvailable { type.decodeCanonical(UnsafeRawBufferPointer($0)) } ?? nil
    }

    public static func decodeWithJSONDecoder(kind: UInt16, body: some Collection<UInt8>) throws(EventDecodingError) -> DomainEvent? {
        guard let type = EventVocabulary.payloadType(number: kind) else { return nil }
        return try type.decodeEnvelope(Data(body))
    }

    public static func == (lhs: DomainEvent, rhs: DomainEvent) -> Bool {
        lhs.actor == rhs.actor && lhs.trail == rhs.trail && lhs.payload.isEqual(to: rhs.payload)
    }
}

private struct Envelope<Payload: Codable>: Codable {
    var actor: String
    var trail: String
    var data: Payload
}

private let envelopeEncoder: JSONEncoder = {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return encoder
}()

extension EventPayload {
    public static var sealedFields: [String] { [] }

    public func envelope(actor: String, trail: String) -> [UInt8] {
        envelopeWithJSONEncoder(actor: actor, trail: trail)
    }

    /// The envelope as `JSONEncoder` writes it: what a kind that writes its own (`SecretPut`,
    /// through `CanonicalJSONWriter`) must write byte for byte.
    public func envelopeWithJSONEncoder(actor: String, trail: String) -> [UInt8] {
        // Encoding plain structs of strings, numbers and Data cannot fail.
        Array(try! envelopeEncoder.encode(Envelope(actor: actor, trail: trail, data: self)))
    }

    public static func decodeEnvelope(_ data: Data) throws(EventDecodingError) -> DomainEvent {
        do {
            let envelope = try JSONDecoder().decode(Envelope<Self>.self, from: data)
            return DomainEvent(actor: envelope.actor, trail: envelope.trail, envelope.data)
        } catch {
            throw EventDecodingError(kind: kind.name, reason: "\(error)")
        }
    }

    public static func decodeCanonical(_ body: UnsafeRawBufferPointer) -> DomainEvent? { nil }

    public func isEqual(to other: any EventPayload) -> Bool {
        (other as? Self) == self
    }
}

/// A record body that does not decode as the event its header names.
public struct EventDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public let kind: String
    public let reason: String

    public var description: String { "a \(kind) event body does not decode: \(reason)" }
}
