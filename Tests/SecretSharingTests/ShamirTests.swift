import Testing
@testable import SecretSharing

@Suite struct ShamirTests {
    static let secret = (0..<32).map { UInt8((7 * $0 + 1) & 0xff) }

    @Test func fieldKnownAnswers() {
        // FIPS-197 §4.2: {57}·{83} = {c1}; {53} and {ca} are inverses.
        #expect(GF256.multiply(0x57, 0x83) == 0xc1)
        #expect(GF256.multiply(0x53, 0xca) == 0x01)
        #expect(GF256.inverse(0x53) == 0xca)
        #expect(GF256.inverse(0) == 0)
        for a in 1...255 {
            #expect(GF256.multiply(UInt8(a), GF256.inverse(UInt8(a))) == 1)
        }
    }

    /// Shares of fixed polynomials, computed by an independent table-based implementation
    /// (Python, log/exp tables with generator 3).
    @Test func evaluationKnownAnswers() throws {
        var coefficients: [UInt8] = []
        for j in 0..<32 { coefficients += [Self.secret[j], UInt8((j * 13 + 5) & 0xff), UInt8((j * 29 + 11) & 0xff)] }
        let shares = Shamir.evaluate(coefficients: coefficients, threshold: 3, shares: 5)
        let expected = [
            "0f3255585bfec184a72aed909376791c7f628548cbee3134571a1dc083e629cc",
            "278c3edd88ee5f8702f4e64e8b3dbc2f816aeeadb813cf6cf289c01efb7b01ff",
            "29b66493ce34b5319c9e4c904d17a6598f701463fe6965fa0c236a60bd51fbe9",
            "a5f64fdc482419663fa88be4cd4a477217c4a55635565fecd901b98e471898b4",
            "abcc15920efef3d0a1c2213a0b605d0419de5f98732cf57a27ab13f0013262a2",
        ]
        #expect(shares.map { $0.value.map { String($0, radix: 16).leftPadded }.joined() } == expected)
        #expect(shares.map(\.index) == [1, 2, 3, 4, 5])
        #expect(try Shamir.combine([shares[4], shares[0], shares[2]], threshold: 3) == Self.secret)
    }

    @Test func everyThreeOfFiveRecoverTheSecret() throws {
        let shares = try Shamir.split(Self.secret, threshold: 3, shares: 5)
        var subsets = 0
        for a in 0..<5 { for b in (a + 1)..<5 { for c in (b + 1)..<5 {
            #expect(try Shamir.combine([shares[c], shares[a], shares[b]], threshold: 3) == Self.secret)
            subsets += 1
        } } }
        #expect(subsets == 10)
        // Two shares give a different value, not the secret.
        let wrong = try Shamir.combine([shares[0], shares[1]], threshold: 2)
        #expect(wrong != Self.secret)
    }

    @Test(arguments: [(1, 1), (2, 3), (3, 3), (1, 5), (5, 5), (10, 255), (255, 255)])
    func splitsRoundTrip(threshold: Int, shares count: Int) throws {
        let shares = try Shamir.split(Self.secret, threshold: threshold, shares: count)
        #expect(shares.count == count)
        #expect(Set(shares.map(\.index)).count == count)
        #expect(try Shamir.combine(Array(shares.suffix(threshold)), threshold: threshold) == Self.secret)
    }

    @Test func sharesNeverPrintTheirBytes() throws {
        let share = try Shamir.split(Self.secret, threshold: 2, shares: 2)[0]
        let hex = share.value.map { String($0, radix: 16).leftPadded }.joined()
        for text in ["\(share)", String(reflecting: share), "\([share])"] {
            #expect(text.contains("index: 1") && !text.contains(hex) && !text.contains("\(share.value)"))
        }
    }

    @Test func splitsAreFresh() throws {
        let a = try Shamir.split(Self.secret, threshold: 2, shares: 3)
        let b = try Shamir.split(Self.secret, threshold: 2, shares: 3)
        #expect(a != b)
    }

    @Test func badInputIsRefusedClearly() throws {
        let shares = try Shamir.split(Self.secret, threshold: 2, shares: 3)
        #expect(throws: ShamirError.invalidParameters(threshold: 0, shares: 3)) { try Shamir.split(Self.secret, threshold: 0, shares: 3) }
        #expect(throws: ShamirError.invalidParameters(threshold: 4, shares: 3)) { try Shamir.split(Self.secret, threshold: 4, shares: 3) }
        #expect(throws: ShamirError.invalidParameters(threshold: 2, shares: 256)) { try Shamir.split(Self.secret, threshold: 2, shares: 256) }
        #expect(throws: ShamirError.wrongSecretLength(31)) { try Shamir.split(Array(Self.secret.prefix(31)), threshold: 2, shares: 3) }
        #expect(throws: ShamirError.zeroSecret) { try Shamir.split([UInt8](repeating: 0, count: 32), threshold: 2, shares: 3) }
        #expect(throws: ShamirError.notEnoughShares(have: 1, need: 2)) { try Shamir.combine([shares[0]], threshold: 2) }
        #expect(throws: ShamirError.duplicateIndex(1)) { try Shamir.combine([shares[0], shares[0]], threshold: 2) }
        #expect(throws: ShamirError.zeroIndex) { try Shamir.combine([Shamir.Share(index: 0, value: shares[0].value), shares[1]], threshold: 2) }
        #expect(throws: ShamirError.wrongShareLength(index: 1, length: 33)) {
            try Shamir.combine([Shamir.Share(index: 1, value: shares[0].value + [0]), shares[1]], threshold: 2)
        }
        #expect(throws: ShamirError.allZeroShare(index: 1)) {
            try Shamir.combine([Shamir.Share(index: 1, value: [UInt8](repeating: 0, count: 32)), shares[1]], threshold: 2)
        }
        // A share with only some zero bytes is an ordinary share (SPIKE: partial zero accepted).
        var partial = shares[0]
        partial.value[0] = 0
        _ = try Shamir.combine([partial, shares[1]], threshold: 2)
    }
}

private extension String {
    var leftPadded: String { count == 1 ? "0" + self : self }
}
