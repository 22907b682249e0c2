import Projections
import SpikeAPI

/// A request body that is read without `JSONDecoder` when it comes in the one form its clients
/// send; any other form (whitespace, escapes, other keys or order) is left to `JSONDecoder`,
/// which decides, so no request is answered differently because of it (ADR-0020).
public protocol CanonicallyDecodable: Decodable {
    /// The request, or nil where `JSONDecoder` must decide.
    static func decodeCanonical(_ body: UnsafeRawBufferPointer) -> Self?
}

extension SecretPutRequest: CanonicallyDecodable {
    /// `{"path":"…","values":{"…":"…",…}}`, with `"cas":n` first or last when set: what SPIKE's
    /// Go client (its struct's order), `spike secret put` (sorted keys) and the load generator
    /// send.
    public static func decodeCanonical(_ body: UnsafeRawBufferPointer) -> SecretPutRequest? {
        var scanner = CanonicalBodyScanner(body)
        guard scanner.literal("{") else { return nil }
        var cas: Int?
        if scanner.literal(#""cas":"#) {
            guard let value = scanner.integer(), scanner.literal(",") else { return nil }
            cas = value
        }
        guard scanner.literal(#""path":"#), let path = scanner.string(), scanner.literal(#","values":"#),
              let values = scanner.stringObject() else { return nil }
        if cas == nil, scanner.literal(#","cas":"#) {
            guard let value = scanner.integer() else { return nil }
            cas = value
        }
        guard scanner.literal("}"), scanner.atEnd else { return nil }
        return SecretPutRequest(path: path, values: values, cas: cas)
    }
}

extension SecretReadRequest: CanonicallyDecodable {
    /// `{"path":"…"}` or `{"path":"…","version":n}`: what SPIKE's Go client (its struct's order,
    /// the version always there), `spike secret get` (sorted keys) and the load generator send.
    public static func decodeCanonical(_ body: UnsafeRawBufferPointer) -> SecretReadRequest? {
        var scanner = CanonicalBodyScanner(body)
        guard scanner.literal(#"{"path":"#), let path = scanner.string() else { return nil }
        var version: Int?
        if scanner.literal(#","version":"#) {
            guard let value = scanner.integer() else { return nil }
            version = value
        }
        guard scanner.literal("}"), scanner.atEnd else { return nil }
        return SecretReadRequest(path: path, version: version)
    }
}
