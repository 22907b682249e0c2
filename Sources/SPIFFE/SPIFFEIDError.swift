/// Which rule of the SPIFFE-ID standard (SPIFFE-ID.md §2) a string breaks.
public enum SPIFFEIDError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case wrongScheme
    case missingTrustDomain
    case trustDomainCharacter(Character)
    case trustDomainUppercase
    case trustDomainTooLong(Int)
    case userInfo
    case port
    case query
    case fragment
    case percentEncoding
    case emptySegment
    case dotSegment(String)
    case trailingSlash
    case pathCharacter(Character)
    case tooLong(Int)

    public var description: String {
        switch self {
        case .empty: "a SPIFFE ID cannot be empty"
        case .wrongScheme: "a SPIFFE ID must start with the scheme 'spiffe://' (lowercase)"
        case .missingTrustDomain: "the trust domain is missing"
        case .trustDomainCharacter(let c): "the trust domain may contain only a-z, 0-9, '.', '-' and '_', not '\(c)'"
        case .trustDomainUppercase: "the trust domain must be lowercase"
        case .trustDomainTooLong(let n): "the trust domain is \(n) bytes; at most 255 are allowed"
        case .userInfo: "a SPIFFE ID cannot have user info ('@' in the authority)"
        case .port: "the trust domain cannot have a port"
        case .query: "a SPIFFE ID cannot have a query ('?')"
        case .fragment: "a SPIFFE ID cannot have a fragment ('#')"
        case .percentEncoding: "a SPIFFE ID cannot be percent-encoded ('%')"
        case .emptySegment: "the path cannot have empty segments ('//')"
        case .dotSegment(let s): "the path cannot have '\(s)' segments"
        case .trailingSlash: "the path cannot end with '/'"
        case .pathCharacter(let c): "path segments may contain only a-z, A-Z, 0-9, '.', '-' and '_', not '\(c)'"
        case .tooLong(let n): "the SPIFFE ID is \(n) bytes; at most 2048 are allowed"
        }
    }
}
