/// Decides whether a peer, by its SPIFFE ID, may talk to us (go-spiffe's `tlsconfig.Authorizer`).
public struct Authorizer: Sendable {
    private let allows: @Sendable (SPIFFEID) -> Bool

    /// Allows when `predicate` is true.
    public init(_ predicate: @escaping @Sendable (SPIFFEID) -> Bool) {
        allows = predicate
    }

    public func authorizes(_ id: SPIFFEID) -> Bool { allows(id) }

    /// Throws `SPIFFEError.unauthorized` unless `id` is allowed.
    public func check(_ id: SPIFFEID) throws(SPIFFEError) {
        guard allows(id) else { throw .unauthorized(id) }
    }

    /// Any peer with a valid SVID (from any trusted trust domain).
    public static let any = Authorizer { _ in true }

    /// Members of `domain`.
    public static func memberOf(_ domain: TrustDomain) -> Authorizer {
        Authorizer { $0.isMember(of: domain) }
    }

    /// Exactly `id`.
    public static func exactly(_ id: SPIFFEID) -> Authorizer {
        Authorizer { $0 == id }
    }

    /// `id` or anything below it (`id + "/…"`): SPIKE's role rule.
    public static func equalToOrBelow(_ id: SPIFFEID) -> Authorizer {
        Authorizer { $0.isEqualToOrBelow(id) }
    }

    /// Any of the given IDs.
    public static func oneOf(_ ids: Set<SPIFFEID>) -> Authorizer {
        Authorizer { ids.contains($0) }
    }

    /// Allowed by this or by `other`.
    public func or(_ other: Authorizer) -> Authorizer {
        Authorizer { self.authorizes($0) || other.authorizes($0) }
    }
}
