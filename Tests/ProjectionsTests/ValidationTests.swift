import Foundation
import Projections
import Testing

/// Conformance table C4 (input validation) of `conformance-public.md`.
@Suite struct ValidationTests {
    @Test func names() {
        let valid = ["simple-name", "name_with_underscore", "name with space", "Name123", "My-Policy_Name 123", "a",
                     String(repeating: "a", count: 250), "12345", "----", "____", "    "]
        let invalid = ["", String(repeating: "a", count: 251), "name/with/slash", "name.with.dot", "name@example", "name(test)",
                       "name[test]", "name{test}", "name*", "name?", "name+", "name=value", "name|other", #"name\test"#, "api.key", "é"]
        for name in valid { #expect(Validation.isValidName(name), "\(name)") }
        for name in invalid { #expect(!Validation.isValidName(name), "\(name)") }
    }

    @Test func secretPaths() {
        let valid = ["app/secrets", "app/secret_name", "app/secret.json", "app/secret-name", "app/prod/database/credentials",
                     "app/secret123", "secrets", "app/(prod)/secrets", "app/[index]/secrets", "app/{id}/secrets", "app|config",
                     #"app\path"#, "app+secrets", "app*secrets", "app?secrets", String(repeating: "a", count: 500),
                     "secrets/db/password", "password", "secrets.db.password", "SECRETS/DB", "secrets/*", "secrets[0]",
                     "secrets{key}", "/secrets/app", "secrets/app/", "a//b"]
        let invalid = ["", String(repeating: "a", count: 501), "app/secret name", "app/@secret", "app/#secret", "app/%secret",
                       "app/&secret", "app/secret=value", "app/secret:value", "app/secret;value", "app/secret,value", "app/<secret",
                       "app/>secret", "secrets\ndb", "secrets\tdb", "secrets\"db\"", "secrets'db'", "secrets`db`", "secrets$db",
                       "secrets^db", "secrets!db", " "]
        for path in valid { #expect(Validation.isValidSecretPath(path), "\(path)") }
        for path in invalid { #expect(!Validation.isValidSecretPath(path), "\(path)") }
    }

    @Test func pathPatterns() {
        let valid = ["app/secrets", "app/.*/secrets", "app/secret.+", "app/secret.?", "app/[a-z]+", "app/(prod|dev)/secrets",
                     "app/secret_name", "app/secret.json", "app/secret-name", "^app/secrets$", "app|config", "app/{id}", "app[0-9]",
                     String(repeating: "a", count: 500)]
        let invalid = ["", String(repeating: "a", count: 501), "app/secret name", "app/@secret", "app/#secret", "app/%secret",
                       "app/&secret", "app/secret=value", "app/secret:value", "app/secret;value", "app/secret,value", "app/<secret",
                       "app/>secret"]
        for pattern in valid { #expect(Validation.isValidPathPattern(pattern), "\(pattern)") }
        for pattern in invalid { #expect(!Validation.isValidPathPattern(pattern), "\(pattern)") }
    }

    @Test func spiffeIDPatternsFollowSPIKEsAPIRule() {
        let valid = [#"^spiffe://example\.org/service.*$"#, "spiffe://example.org/app", #"^spiffe://spike\.ist/workload/.*$"#,
                     "^spiffe://.+$", #"spiffe://example\.org/(a)"#]
        let invalid = [".*", "^.*$", "spiffe://a.org/x|spiffe://b.org/y", "spiffe://a.org/{x}", "spiffe://a.org/", "http://a.org/x",
                       "", "spiffe://a.org/x\n"]
        for pattern in valid { #expect(Validation.isValidSPIFFEIDPattern(pattern), "\(pattern)") }
        for pattern in invalid { #expect(!Validation.isValidSPIFFEIDPattern(pattern), "\(pattern)") }
    }

    /// The linear scan agrees with the SDK's expression (run by ICU on short strings, where its
    /// backtracking is harmless) on every string of a seeded sample over the relevant alphabet.
    @Test func spiffeIDPatternScanAgreesWithTheSDKExpression() throws {
        let sdk = try NSRegularExpression(pattern: #"^\^?spiffe://[\\a-zA-Z0-9.\-*()+?\[\]]+(/[\\/a-zA-Z0-9._\-*()+?\[\]]+)*\$?$"#)
        let alphabet = Array("^$/a._-*\\|{}: ")
        var state: UInt64 = 42
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        var agreed = 0
        for _ in 0..<20_000 {
            let prefix = ["", "^", "spiffe://", "^spiffe://", "spiffe:/"][next() % 5]
            let body = String((0..<(next() % 8)).map { _ in alphabet[next() % alphabet.count] })
            let pattern = prefix + body
            let expected = sdk.firstMatch(in: pattern, range: NSRange(pattern.startIndex..., in: pattern)) != nil
            #expect(Validation.isValidSPIFFEIDPattern(pattern) == expected, "\(pattern)")
            if expected { agreed += 1 }
        }
        #expect(agreed > 300, "the sample must hold valid patterns too")
        // What backtracks exponentially in the expression is linear here.
        #expect(!Validation.isValidSPIFFEIDPattern("spiffe://a" + String(repeating: "/a", count: 100_000) + "!"))
    }

    // C4.6.
    @Test func permissionLists() throws {
        #expect(try Validation.parsePermissions("read") == [.read])
        #expect(try Validation.parsePermissions("read,write,list").count == 3)
        #expect(try Validation.parsePermissions("read,write,list,execute,super").count == 5)
        #expect(try Validation.parsePermissions("read, write, list").count == 3)
        #expect(try Validation.parsePermissions("read,read") == [.read, .read])
        for bad in ["delete", "admin", "raed", "reed", "create", "invalid", "read,delete", "read,invalid"] {
            #expect(throws: PermissionListError.self, "\(bad)") { try Validation.parsePermissions(bad) }
            #expect((try? Validation.parsePermissions(bad)) == nil)
        }
        #expect(throws: PermissionListError.empty) { try Validation.parsePermissions("") }
        #expect(throws: PermissionListError.empty) { try Validation.parsePermissions(",,,") }
        #expect(PermissionListError.invalid("delete").description.contains("invalid permission"))
        #expect(PermissionListError.empty.description.contains("no valid permissions"))
    }
}
