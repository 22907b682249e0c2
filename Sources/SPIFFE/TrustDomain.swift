/// A SPIFFE trust domain: the authority of a SPIFFE ID, e.g. `example.org`.
public struct TrustDomain: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let maxLength = 255
    public let name: String

    /// Parses a trust domain name (`example.org`) or the ID of one (`spiffe://example.org`).
    public init(parsing string: String) throws(SPIFFEIDError) {
        if string.hasPrefix("spiffe://") {
            let id = try SPIFFEID(parsing: string)
            guard id.path.isEmpty else { throw .pathCharacter("/") }
            self = id.trustDomain
            return
        }
        guard !string.isEmpty else { throw .missingTrustDomain }
        if string.contains(":") && string.contains("/") { throw .wrongScheme }
        try Self.validate(Substring(string))
        name = string
    }

    init(validated name: String) {
        self.name = name
    }

    /// `spiffe://<name>`: the ID of the trust domain itself (no path).
    public var id: SPIFFEID { SPIFFEID(trustDomain: self, validatedPath: "") }

    public var description: String { name }

    public static func < (lhs: TrustDomain, rhs: TrustDomain) -> Bool { lhs.name < rhs.name }

    static func validate(_ name: Substring) throws(SPIFFEIDError) {
        guard !name.isEmpty else { throw .missingTrustDomain }
        for character in name {
            switch character {
            case "a"..."z", "0"..."9", ".", "-", "_": continue
            case "A"..."Z": throw .trustDomainUppercase
            case "@": throw .userInfo
            case ":": throw .port
            case "%": throw .percentEncoding
            case "?": throw .query
            case "#": throw .fragment
            default: throw .trustDomainCharacter(character)
            }
        }
        guard name.utf8.count <= maxLength else { throw .trustDomainTooLong(name.utf8.count) }
    }
}
