/// What a policy may grant. `super` satisfies any want.
public enum Permission: String, Codable, CaseIterable, Sendable, Comparable {
    case read, write, list, execute, `super`

    public static func < (lhs: Permission, rhs: Permission) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// A policy as SPIKE has it (reference §4.2): identified by its name, granting `permissions` to
/// callers whose SPIFFE ID matches `spiffeidPattern` on paths matching `pathPattern` (both
/// unanchored RE2-style patterns). Compiled once, when it is folded.
public struct Policy: Sendable {
    public var name: String
    public var spiffeidPattern: String
    public var pathPattern: String
    public var permissions: [Permission]
    public var createdAt: Int64
    public var updatedAt: Int64

    let idRegex: PolicyPattern?
    let pathRegex: PolicyPattern?
    /// The reserved paths this policy may reach (ADR-0033).
    let reachable: Set<String>

    /// Compiles the patterns; a policy whose patterns do not compile never grants anything
    /// (only possible for a record written by another implementation: puts are validated).
    public init(_ put: PolicyPut) {
        name = put.name
        spiffeidPattern = put.spiffeidPattern
        pathPattern = put.pathPattern
        permissions = put.permissions.compactMap(Permission.init(rawValue:))
        createdAt = put.createdAt
        updatedAt = put.updatedAt
        idRegex = try? PolicyPattern(put.spiffeidPattern)
        pathRegex = try? PolicyPattern(put.pathPattern)
        reachable = Set(ReservedPaths.all.filter { ReservedPaths.mayReach(idPattern: put.spiffeidPattern, pathPattern: put.pathPattern, $0) })
    }

    /// Whether this policy alone grants every one of `wants` to `peer` on `path`.
    public func grants(peer: String, path: String, wants: Set<Permission>) -> Bool {
        guard let idRegex, let pathRegex else { return false }
        guard permissions.contains(.super) || wants.isSubset(of: permissions) else { return false }
        if ReservedPaths.isReserved(path) && !reachable.contains(path) { return false }
        return idRegex.matches(peer) && pathRegex.matches(path)
    }

    /// The put-time checks beyond syntax: both patterns compile as RE2-style expressions, and the
    /// first reserved path the path pattern reaches is one the policy may reach (ADR-0033).
    public static func check(spiffeidPattern: String, pathPattern: String) throws(PolicyError) {
        _ = try PolicyPattern(spiffeidPattern)
        let pathRegex = try PolicyPattern(pathPattern)
        if let reached = ReservedPaths.all.first(where: pathRegex.matches),
           !ReservedPaths.mayReach(idPattern: spiffeidPattern, pathPattern: pathPattern, reached) {
            throw .reservedPathOverreach(pattern: pathPattern, reserved: reached)
        }
    }
}

/// The reserved system paths of ADR-0033 and the precision a policy needs to reach them.
public enum ReservedPaths {
    public static let acl = "spike/system/acl"
    public static let secretList = "spike/system/secret"
    public static let cipher = "spike/system/cipher/exec"
    public static let all = [acl, secretList, cipher]

    public static func isReserved(_ path: String) -> Bool { all.contains(path) }

    /// Textually anchored: starts with `^` and ends with `$`.
    public static func isAnchored(_ pattern: String) -> Bool {
        pattern.hasPrefix("^") && pattern.hasSuffix("$")
    }

    /// The pattern, as a whole-string match, describes `path`.
    public static func describes(_ pattern: String, _ path: String) -> Bool {
        PolicyPattern.fullyMatches(pattern, path)
    }

    /// An ID pattern is precise when anchored, or when it is a deliberate catch-all (its
    /// whole-string form matches an arbitrary probe).
    public static func isPreciseIdentity(_ pattern: String) -> Bool {
        isAnchored(pattern) || PolicyPattern.fullyMatches(pattern, "spike-arbitrary-probe-value")
    }

    public static func mayReach(idPattern: String, pathPattern: String, _ reserved: String) -> Bool {
        describes(pathPattern, reserved) && isPreciseIdentity(idPattern)
    }
}
