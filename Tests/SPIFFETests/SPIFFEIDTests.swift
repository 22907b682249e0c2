import Testing
@testable import SPIFFE

@Suite struct SPIFFEIDTests {
    @Test(arguments: [
        "spiffe://example.org",
        "spiffe://example.org/workload",
        "spiffe://example.org/spike/pilot/role/superuser",
        "spiffe://spike.ist/a-b_c.d/E9",
        "spiffe://1.2.3.4/service",
        "spiffe://a_b-c.d/...x/x..",
        "spiffe://example.org/" + String(repeating: "a", count: 2048 - 21),
    ])
    func valid(_ string: String) throws {
        let id = try SPIFFEID(parsing: string)
        #expect(id.description == string)
    }

    @Test(arguments: [
        ("", SPIFFEIDError.empty),
        ("example.org/workload", .wrongScheme),
        ("Spiffe://example.org/w", .wrongScheme),
        ("https://example.org/w", .wrongScheme),
        ("spiffe:/example.org", .wrongScheme),
        ("spiffe://", .missingTrustDomain),
        ("spiffe:///path", .missingTrustDomain),
        ("spiffe://Example.org/w", .trustDomainUppercase),
        ("spiffe://exa mple.org/w", .trustDomainCharacter(" ")),
        ("spiffe://exa$mple.org", .trustDomainCharacter("$")),
        ("spiffe://user@example.org/w", .userInfo),
        ("spiffe://example.org:8443/w", .port),
        ("spiffe://example.org/w?x=1", .query),
        ("spiffe://example.org/w#frag", .fragment),
        ("spiffe://example.org?x", .query),
        ("spiffe://example.org/w%20x", .percentEncoding),
        ("spiffe://ex%41mple.org/w", .percentEncoding),
        ("spiffe://example.org/a//b", .emptySegment),
        ("spiffe://example.org/a/./b", .dotSegment(".")),
        ("spiffe://example.org/a/../b", .dotSegment("..")),
        ("spiffe://example.org/..", .dotSegment("..")),
        ("spiffe://example.org/", .trailingSlash),
        ("spiffe://example.org/a/", .trailingSlash),
        ("spiffe://example.org/a b", .pathCharacter(" ")),
        ("spiffe://example.org/a@b", .pathCharacter("@")),
        ("spiffe://example.org/ü", .pathCharacter("ü")),
    ])
    func invalid(_ string: String, _ expected: SPIFFEIDError) {
        #expect(throws: expected) { try SPIFFEID(parsing: string) }
    }

    @Test func lengthLimits() {
        let longest = "spiffe://example.org/" + String(repeating: "a", count: 2048 - 21)
        #expect(longest.utf8.count == 2048)
        #expect(throws: SPIFFEIDError.tooLong(2049)) { try SPIFFEID(parsing: longest + "a") }
        let domain = String(repeating: "a", count: 255)
        #expect((try? TrustDomain(parsing: domain))?.name == domain)
        #expect(throws: SPIFFEIDError.trustDomainTooLong(256)) { try TrustDomain(parsing: domain + "a") }
        #expect(throws: SPIFFEIDError.trustDomainTooLong(256)) { try SPIFFEID(parsing: "spiffe://\(domain)a/w") }
    }

    @Test func partsAndTrustDomains() throws {
        let id = try SPIFFEID(parsing: "spiffe://example.org/spike/nexus")
        #expect(id.trustDomain.name == "example.org")
        #expect(id.path == "/spike/nexus")
        #expect(try TrustDomain(parsing: "spiffe://example.org") == id.trustDomain)
        #expect(try TrustDomain(parsing: "example.org").id.description == "spiffe://example.org")
        #expect(throws: SPIFFEIDError.self) { try TrustDomain(parsing: "spiffe://example.org/path") }
        #expect(try SPIFFEID(trustDomain: id.trustDomain, path: "spike/keeper").description == "spiffe://example.org/spike/keeper")
        #expect(throws: SPIFFEIDError.dotSegment("..")) { try SPIFFEID(trustDomain: id.trustDomain, path: "/a/..") }
    }

    /// SPIKE's role rule (spike-features §1.1): equal, or below with a `/`.
    @Test func equalToOrBelow() throws {
        let superuser = try SPIFFEID(parsing: "spiffe://spike.ist/spike/pilot/role/superuser")
        #expect(try SPIFFEID(parsing: "spiffe://spike.ist/spike/pilot/role/superuser").isEqualToOrBelow(superuser))
        #expect(try SPIFFEID(parsing: "spiffe://spike.ist/spike/pilot/role/superuser/instance-0").isEqualToOrBelow(superuser))
        #expect(try !SPIFFEID(parsing: "spiffe://spike.ist/spike/pilot/role/superuser-x").isEqualToOrBelow(superuser))
        #expect(try !SPIFFEID(parsing: "spiffe://other.ist/spike/pilot/role/superuser").isEqualToOrBelow(superuser))
    }

    @Test func authorizers() throws {
        let nexus = try SPIFFEID(parsing: "spiffe://spike.ist/spike/nexus")
        let keeper = try SPIFFEID(parsing: "spiffe://spike.ist/spike/keeper")
        let foreign = try SPIFFEID(parsing: "spiffe://evil.example/spike/nexus")
        #expect(Authorizer.any.authorizes(foreign))
        #expect(Authorizer.memberOf(nexus.trustDomain).authorizes(keeper))
        #expect(!Authorizer.memberOf(nexus.trustDomain).authorizes(foreign))
        #expect(Authorizer.exactly(nexus).authorizes(nexus))
        #expect(!Authorizer.exactly(nexus).authorizes(keeper))
        #expect(!Authorizer.exactly(nexus).authorizes(foreign))
        #expect(Authorizer.oneOf([nexus, keeper]).authorizes(keeper))
        #expect(Authorizer.exactly(nexus).or(.exactly(keeper)).authorizes(keeper))
        #expect(Authorizer { $0.path.hasSuffix("/keeper") }.authorizes(keeper))
        #expect(throws: SPIFFEError.self) { try Authorizer.exactly(nexus).check(keeper) }
    }
}
