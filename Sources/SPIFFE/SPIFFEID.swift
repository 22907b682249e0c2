/// A SPIFFE ID (`spiffe://trust-domain/path`), parsed by exactly the rules of the SPIFFE-ID
/// standard: lowercase scheme and trust domain of `[a-z0-9._-]`, no user info, port, query,
/// fragment or percent-encoding, path segments of `[a-zA-Z0-9._-]` that are neither empty, `.`
/// nor `..`, no trailing slash, at most 255 bytes of trust domain and 2048 bytes in all.
public struct SPIFFEID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let maxLength = 2048
    static let scheme = "spiffe://"

    public let trustDomain: TrustDomain
    /// The path with its leading `/`, or empty for the ID of a trust domain.
    public let path: String
    /// `spiffe://trust-domain/path`, made once: a server names the caller of every request with it.
    public let description: String

    public init(parsing string: String) throws(SPIFFEIDError) {
        guard !string.isEmpty else { throw .empty }
        guard string.hasPrefix(Self.scheme) else { throw .wrongScheme }
        guard string.utf8.count <= Self.maxLength else { throw .tooLong(string.utf8.count) }
        let rest = string.dropFirst(Self.scheme.count)
        // Query and fragment are reported as such wherever they start.
        if rest.contains("?") { throw .query }
        if rest.contains("#") { throw .fragment }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard !authority.isEmpty else { throw .missingTrustDomain }
        try TrustDomain.validate(authority)
        let path = rest[authorityEnd...]
        try Self.validate(path: path)
        self.init(trustDomain: TrustDomain(validated: String(authority)), validatedPath: String(path))
    }

    /// The ID with `path` (segments joined by `/`, leading `/` optional) in `trustDomain`.
    public init(trustDomain: TrustDomain, path: String) throws(SPIFFEIDError) {
        let normalized = path.isEmpty || path.hasPrefix("/") ? path : "/" + path
        try Self.validate(path: Substring(normalized))
        guard Self.scheme.utf8.count + trustDomain.name.utf8.count + normalized.utf8.count <= Self.maxLength else {
            throw .tooLong(Self.scheme.utf8.count + trustDomain.name.utf8.count + normalized.utf8.count)
        }
        self.init(trustDomain: trustDomain, validatedPath: normalized)
    }

    init(trustDomain: TrustDomain, validatedPath: String) {
        self.trustDomain = trustDomain
        self.path = validatedPath
        description = Self.scheme + trustDomain.name + validatedPath
    }

    public static func < (lhs: SPIFFEID, rhs: SPIFFEID) -> Bool { lhs.description < rhs.description }

    /// True for the ID itself and for IDs below it (`id + "/…"`): SPIKE's role rule, under which
    /// `…/superuser/instance-0` is a superuser and `…/superuser-x` is not.
    public func isEqualToOrBelow(_ base: SPIFFEID) -> Bool {
        guard trustDomain == base.trustDomain else { return false }
        if path == base.path { return true }
        // Compared as bytes (paths are ASCII), with no `base.path + "/"` built for every check.
        let (mine, theirs) = (path.utf8, base.path.utf8)
        guard mine.count > theirs.count, mine.starts(with: theirs) else { return false }
        return mine[mine.index(mine.startIndex, offsetBy: theirs.count)] == UInt8(ascii: "/")
    }

    public func isMember(of domain: TrustDomain) -> Bool { trustDomain == domain }

    static func validate(path: Substring) throws(SPIFFEIDError) {
        guard !path.isEmpty else { return }
        guard path.last != "/" else { throw path.hasSuffix("//") ? .emptySegment : .trailingSlash }
        for segment in path.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            guard !segment.isEmpty else { throw .emptySegment }
            guard segment != ".", segment != ".." else { throw .dotSegment(String(segment)) }
            for character in segment {
                switch character {
                case "a"..."z", "A"..."Z", "0"..."9", ".", "-", "_": continue
                case "%": throw .percentEncoding
                case "?": throw .query
                case "#": throw .fragment
                default: throw .pathCharacter(character)
                }
            }
        }
    }
}
