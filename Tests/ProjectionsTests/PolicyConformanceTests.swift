import Projections
import Testing

/// Conformance tables C1 (policy matching) and C2 (reserved system paths, ADR-0033) of
/// `conformance-public.md`, on the fold: policies enter as `PolicyPut` events.
@Suite struct PolicyConformanceTests {
    static func projection(_ policies: [(String, String, String, [Permission])]) -> DataProjection {
        var projection = DataProjection()
        for (name, id, path, permissions) in policies {
            projection.apply(DomainEvent(actor: "spiffe://spike.ist/test", trail: "t", PolicyPut(
                name: name, spiffeidPattern: id, pathPattern: path, permissions: permissions.map(\.rawValue), createdAt: 1, updatedAt: 1)))
        }
        return projection
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var peer: String
        var path: String
        var wants: Set<Permission>
        var allowed: Bool
        var testDescription: String { "\(peer) \(path) \(wants.sorted()) → \(allowed ? "allow" : "deny")" }
    }

    // C1.1: `specific-access`, ID ^spiffe://example\.org/service.*$, path ^app/.*$, [read, write].
    @Test(arguments: [
        Case(peer: "spiffe://example.org/service-a", path: "app/secrets", wants: [.read], allowed: true),
        Case(peer: "spiffe://example.org/service-b", path: "app/config", wants: [.read, .write], allowed: true),
        Case(peer: "spiffe://other.org/service-a", path: "app/secrets", wants: [.read], allowed: false),
        Case(peer: "spiffe://example.org/service-a", path: "other/secrets", wants: [.read], allowed: false),
        Case(peer: "spiffe://example.org/service-a", path: "app/secrets", wants: [.list], allowed: false),
        Case(peer: "spiffe://example.org/service-a", path: "app/secrets", wants: [.read, .list], allowed: false),
        Case(peer: "spiffe://example.org/serviceX/extra", path: "app/a/b", wants: [.write], allowed: true),
    ])
    func specificAccess(_ row: Case) {
        let projection = Self.projection([("specific-access", #"^spiffe://example\.org/service.*$"#, "^app/.*$", [.read, .write])])
        #expect(projection.allows(peer: row.peer, path: row.path, wants: row.wants) == row.allowed)
    }

    // C1.3: super, default deny, no union across policies, unanchored substring semantics.
    @Test func superAndDefaults() {
        let superAdmin = Self.projection([("super-admin", ".*", ".*", [.super])])
        for wants: Set<Permission> in [[.read], [.write], [.list]] {
            #expect(superAdmin.allows(peer: "spiffe://example.org/test", path: "any/pathPattern", wants: wants))
        }
        #expect(!DataProjection().allows(peer: "spiffe://example.org/test", path: "some/path", wants: [.read]))
        #expect(Self.projection([("p", ".*", ".*", [.read])]).allows(peer: "spiffe://example.org/test", path: "test/path", wants: [.read]))
        let split = Self.projection([("p1", #"^spiffe://a\.org/x$"#, "^s/.*$", [.read]), ("p2", #"^spiffe://a\.org/x$"#, "^s/.*$", [.write])])
        #expect(!split.allows(peer: "spiffe://a.org/x", path: "s/k", wants: [.read, .write]))
        #expect(split.allows(peer: "spiffe://a.org/x", path: "s/k", wants: [.write]))
        let unanchored = Self.projection([("p", #"spiffe://example\.org/admin"#, "^s$", [.read])])
        #expect(unanchored.allows(peer: "spiffe://example.org/admin-attacker", path: "s", wants: [.read]))
    }

    // C1.4 (state layer): upsert keeps CreatedAt, delete, list filters by exact pattern text.
    @Test func upsertKeepsCreationAndDeleteRemoves() {
        var projection = Self.projection([("test-policy", #"^spiffe://example\.org/.*$"#, "^test/.*$", [.read])])
        projection.apply(DomainEvent(actor: "a", trail: "t", PolicyPut(
            name: "test-policy", spiffeidPattern: #"^spiffe://example\.org/.*$"#, pathPattern: "^test/.*$",
            permissions: ["read", "write"], createdAt: 1, updatedAt: 9)))
        #expect(projection.policies.count == 1)
        #expect(projection.policies["test-policy"]?.permissions == [.read, .write])
        #expect(projection.policies["test-policy"]?.updatedAt == 9)
        projection.apply(DomainEvent(actor: "a", trail: "t", PolicyDeleted(name: "test-policy", at: 10)))
        #expect(projection.policies.isEmpty)
        #expect(!projection.allows(peer: "spiffe://example.org/x", path: "test/a", wants: [.read]))
    }

    @Test func invalidRegularExpressionsAreRefused() {
        #expect(throws: PolicyError.self) { try Policy.check(spiffeidPattern: "[invalid-regex", pathPattern: "valid/.*") }
        #expect(throws: PolicyError.self) { try Policy.check(spiffeidPattern: "^spiffe://a$", pathPattern: "[invalid-regex") }
        // Not RE2 (nor Go): lookaround, back references, atomic groups, possessive quantifiers;
        // the refusal carries RE2's reason.
        for (pattern, reason) in [("a(?=b)", "invalid perl operator"), ("a(?!b)", "invalid perl operator"), ("(?<=a)b", "invalid"),
                                  ("(?<!a)b", "invalid"), (#"(a)\1"#, "invalid escape sequence"), ("(?>a)", "invalid perl operator"),
                                  ("a++", "bad repetition operator"), ("a*+", "bad repetition operator"), ("a{1001}", "invalid repetition size"),
                                  ("(unclosed", "missing )")] {
            #expect(throws: PolicyError.self, "\(pattern)") { try PolicyPattern(pattern) }
            do { _ = try PolicyPattern(pattern) } catch {
                #expect("\(error)".contains("is not RE2 syntax (\(reason)"), "\(pattern): \(error)")
            }
        }
        // RE2 syntax, including what a backtracking engine would take exponential time on, and
        // the usual shapes of policies.
        for pattern in [#"a\\1"#, "[(?=]", "(?:a)", "(?i)abc", "a+?", #"\d{2,3}"#, "^(prod|dev)/.*$", "(.*/)?secret", "(a+)?",
                        "^app/(db|cache)-[0-9]+/.*$", #"^spiffe://example\.org/(web|api)/.*$"#, "[(+)]+", "(?i)(a|b)+", "((?:ab)|c)+",
                        "(a+)+", "^(a*b?)*$", "((a|b)+c)*", "(x{2,})+", "(.*a){3,}", "(?:a+)+", "(a|aa)*c", "(a?a)*c"] {
            #expect((try? PolicyPattern(pattern)) != nil, "\(pattern)")
        }
    }

    /// Patterns that take exponential time on a backtracking engine answer at once on RE2: the
    /// first would not finish in a lifetime on ICU (2^n paths for n `a`s).
    @Test(.timeLimit(.minutes(1))) func matchingIsLinearInTheText() throws {
        let text = String(repeating: "a", count: 10_000)
        for source in ["(a|aa)*c", "(a?a)*c", "(a+)+c", "^(a|a)*$b"] {
            let pattern = try PolicyPattern(source)
            #expect(!pattern.matches(text), "\(source)")
            #expect(pattern.matches(text + "c") == source.hasSuffix("c"), "\(source)")
        }
        // Unanchored as Go's MatchString; whole-string matching for the reserved-path rules.
        let anywhere = try PolicyPattern("b+")
        #expect(anywhere.matches("aabbaa") && !anywhere.matchesWhole("aabbaa") && anywhere.matchesWhole("bbb"))
        #expect(try PolicyPattern("é").matches("café"))
    }

    // C2.1–C2.4.
    @Test func reservedPathPredicates() {
        for (pattern, anchored) in [("^spike/system/acl$", true), ("^.*$", true), ("^spike/system/.*$", true), ("acl", false),
                                    ("^acl", false), ("acl$", false), ("", false), ("^a$|acl", false)] {
            #expect(ReservedPaths.isAnchored(pattern) == anchored, "\(pattern)")
        }
        for (pattern, describes) in [("^spike/system/acl$", true), ("spike/system/acl", true), ("^spike/system/.*$", true), (".*", true),
                                     ("^.*$", true), ("acl", false), ("system", false), ("spike", false), ("^spike", false), ("acl$", false)] {
            #expect(ReservedPaths.describes(pattern, "spike/system/acl") == describes, "\(pattern)")
        }
        for (pattern, precise) in [(#"^spiffe://example\.org/admin$"#, true), (".*", true), ("^.*$", true),
                                   (#"^spiffe://example\.org/.*$"#, true), (#"spiffe://example\.org/admin"#, false), ("admin", false)] {
            #expect(ReservedPaths.isPreciseIdentity(pattern) == precise, "\(pattern)")
        }
        for path in ["spike/system/acl", "spike/system/secret", "spike/system/cipher/exec"] { #expect(ReservedPaths.isReserved(path)) }
        for path in ["secrets/db", "spike/system", "tenants/acme/db"] { #expect(!ReservedPaths.isReserved(path)) }
    }

    // C2.5: the put-time guard.
    @Test(arguments: [
        (#"^spiffe://example\.org/audit$"#, "acl", false),
        (#"^spiffe://example\.org/audit$"#, "system", false),
        (#"^spiffe://example\.org/audit$"#, "spike", false),
        (#"^spiffe://example\.org/audit$"#, "secret", false),
        (#"^spiffe://example\.org/audit$"#, "exec", false),
        (#"spiffe://example\.org/admin"#, "^spike/system/acl$", false),
        (#"^spiffe://example\.org/admin$"#, "^spike/system/acl$", true),
        (".*", ".*", true),
        (#"^spiffe://example\.org/web$"#, "^tenants/acme/", true),
        (#"^spiffe://x\.org/a$"#, "^spike/", false),
        (#"^spiffe://x\.org/a$"#, "^secrets/.*$", true),
    ])
    func putTimeGuard(id: String, path: String, accepted: Bool) {
        #expect((try? Policy.check(spiffeidPattern: id, pathPattern: path)) != nil ? accepted : !accepted)
    }

    // ADR-0033 at check time: a legacy policy that overreaches a reserved path is ignored there
    // but still grants ordinary paths.
    @Test func overreachingPolicyIsIgnoredOnReservedPathsOnly() {
        let legacy = Self.projection([("legacy", #"spiffe://example\.org/admin"#, ".*", [.super])])
        #expect(!legacy.allows(peer: "spiffe://example.org/admin", path: ReservedPaths.acl, wants: [.write]))
        #expect(!legacy.allows(peer: "spiffe://example.org/admin", path: ReservedPaths.cipher, wants: [.execute]))
        #expect(legacy.allows(peer: "spiffe://example.org/admin", path: "apps/db", wants: [.write]))
        let precise = Self.projection([("acl-admin", #"^spiffe://example\.org/admin$"#, "^spike/system/acl$", [.write])])
        #expect(precise.allows(peer: "spiffe://example.org/admin", path: ReservedPaths.acl, wants: [.write]))
        #expect(!precise.allows(peer: "spiffe://example.org/admin-x", path: ReservedPaths.acl, wants: [.write]))
    }
}
