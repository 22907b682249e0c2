import Crypto
import Foundation
import SwiftASN1
import Testing
import X509
@testable import SPIFFE

@Suite struct X509SVIDTests {
    let domain = try! TrustDomain(parsing: "example.org")
    let ca: DevelopmentCA
    let id = try! SPIFFEID(parsing: "spiffe://example.org/spike/nexus")

    init() throws {
        ca = try DevelopmentCA(trustDomain: domain)
    }

    private func validate(_ chain: [Certificate], bundles: X509BundleSet? = nil) async throws -> SPIFFEID {
        try await X509SVIDValidator.validate(chain: chain, bundles: bundles ?? X509BundleSet([ca.bundle]))
    }

    private func leaf(_ change: (inout DevelopmentCA.LeafTemplate) -> Void) throws -> Certificate {
        var template = DevelopmentCA.LeafTemplate(uris: [id.description])
        change(&template)
        return try ca.issue(template).0
    }

    @Test func issuedSVIDValidates() async throws {
        let svid = try ca.issue(id)
        #expect(svid.id == id)
        #expect(try await validate(svid.certificates) == id)
    }

    @Test func emptySubjectWithCriticalSANValidates() async throws {
        let certificate = try leaf { $0.subjectEmpty = true }
        #expect(try await validate([certificate]) == id)
    }

    /// go-spiffe's fixtures and the X509-SVID standard's rules, one failure each.
    enum Defect: String, CaseIterable, Sendable {
        case twoURISANs, noURISAN, notASPIFFEID, rootPath, leafIsCA, leafSignsCertificates, leafSignsCRLs
        case noDigitalSignature, noKeyUsage, keyUsageNotCritical, serverAuthOnly, emptySubjectNonCriticalSAN

        func apply(to t: inout DevelopmentCA.LeafTemplate) {
            switch self {
            case .twoURISANs: t.uris.append("spiffe://example.org/other")
            case .noURISAN: t.uris = []
            case .notASPIFFEID: t.uris = ["https://example.org/x"]
            case .rootPath: t.uris = ["spiffe://example.org"]
            case .leafIsCA: t.basicConstraints = .isCertificateAuthority(maxPathLength: nil)
            case .leafSignsCertificates: t.keyUsage = KeyUsage(digitalSignature: true, keyCertSign: true)
            case .leafSignsCRLs: t.keyUsage = KeyUsage(digitalSignature: true, cRLSign: true)
            case .noDigitalSignature: t.keyUsage = KeyUsage(keyEncipherment: true)
            case .noKeyUsage: t.keyUsage = nil
            case .keyUsageNotCritical: t.keyUsageCritical = false
            case .serverAuthOnly: t.extendedKeyUsage = [.serverAuth]
            case .emptySubjectNonCriticalSAN: t.subjectEmpty = true; t.sanCritical = false
            }
        }

        var reason: String {
            switch self {
            case .twoURISANs: "2 URI SANs"
            case .noURISAN: "no URI SAN"
            case .notASPIFFEID: "not a SPIFFE ID"
            case .rootPath: "has no path"
            case .leafIsCA: "is a CA"
            case .leafSignsCertificates: "certificate signing"
            case .leafSignsCRLs: "CRL signing"
            case .noDigitalSignature: "lacks digital signature"
            case .noKeyUsage: "no key usage"
            case .keyUsageNotCritical: "not critical"
            case .serverAuthOnly: "both server and client"
            case .emptySubjectNonCriticalSAN: "must be critical"
            }
        }
    }

    @Test(arguments: Defect.allCases)
    func invalidLeafIsRefused(_ defect: Defect) async throws {
        let certificate = try leaf { defect.apply(to: &$0) }
        await #expect {
            try await validate([certificate])
        } throws: { error in
            "\(error)".contains(defect.reason)
        }
        // One's own SVID is held to the same rules.
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        #expect(throws: SPIFFEError.self) { try X509SVID(certificates: [certificate], privateKey: key) }
    }

    @Test func expiredAndNotYetValidAreRefused() async throws {
        let expired = try leaf { $0.notValidBefore = Date() - 7200; $0.notValidAfter = Date() - 3600 }
        await #expect(throws: SPIFFEError.self) { try await validate([expired]) }
        let future = try leaf { $0.notValidBefore = Date() + 3600; $0.notValidAfter = Date() + 7200 }
        await #expect(throws: SPIFFEError.self) { try await validate([future]) }
    }

    @Test func unknownCriticalExtensionIsRefused() async throws {
        let certificate = try leaf { $0.unknownCriticalExtension = true }
        await #expect(throws: SPIFFEError.self) { try await validate([certificate]) }
    }

    @Test func wrongTrustDomainIsRefused() async throws {
        let other = try DevelopmentCA(trustDomain: TrustDomain(parsing: "other.org"))
        let foreign = try other.issue(SPIFFEID(parsing: "spiffe://other.org/spike/nexus"))
        // No bundle for other.org.
        await #expect {
            try await validate(foreign.certificates)
        } throws: { error in
            guard case SPIFFEError.noBundle(let missing) = error else { return false }
            return missing == other.trustDomain
        }
        // A leaf claiming example.org but signed by other.org's CA.
        let impostor = try other.issue(DevelopmentCA.LeafTemplate(uris: [id.description])).0
        await #expect(throws: SPIFFEError.self) { try await validate([impostor]) }
        // Federation: with other.org's bundle too, its SVID validates.
        #expect(try await validate(foreign.certificates, bundles: X509BundleSet([ca.bundle, other.bundle])) == foreign.id)
    }

    @Test func sameNameDifferentCAIsRefused() async throws {
        let rogue = try DevelopmentCA(trustDomain: domain)
        await #expect(throws: SPIFFEError.self) { try await validate(try rogue.issue(id).certificates) }
    }

    @Test func svidPEMRoundTripAndKeyMismatch() throws {
        let svid = try ca.issue(id)
        let reread = try X509SVID(certificatePEM: svid.certificatesPEM(), keyPEM: svid.privateKeyPEM())
        #expect(reread.id == id)
        #expect(reread.certificates == svid.certificates)
        let other = try ca.issue(id)
        #expect(throws: SPIFFEError.self) { try X509SVID(certificatePEM: svid.certificatesPEM(), keyPEM: other.privateKeyPEM()) }
        #expect(throws: SPIFFEError.self) { try X509SVID(certificatePEM: "garbage", keyPEM: svid.privateKeyPEM()) }
    }

    @Test func bundlesFromPEMAndSPIFFEJSON() throws {
        let pem = try ca.bundle.pem()
        #expect(try X509Bundle(trustDomain: domain, pem: pem) == ca.bundle)
        let der = try ca.certificate.serializeAsPEM().derBytes
        let json = """
        {"keys": [
          {"use": "x509-svid", "kty": "EC", "crv": "P-256", "x5c": ["\(Data(der).base64EncodedString())"]},
          {"use": "jwt-svid", "kty": "EC", "kid": "k1", "crv": "P-256", "x": "", "y": ""},
          {"use": "x509-svid", "x5c": ["ignored: no kty"]}
        ], "spiffe_sequence": 3, "spiffe_refresh_hint": 2419200}
        """
        let bundle = try X509Bundle(trustDomain: domain, spiffeBundleJSON: Data(json.utf8))
        #expect(bundle.authorities == [ca.certificate])
        #expect(try X509Bundle(trustDomain: domain, spiffeBundleJSON: Data(#"{"keys": []}"#.utf8)).authorities.isEmpty)
        #expect(throws: SPIFFEError.self) { try X509Bundle(trustDomain: domain, spiffeBundleJSON: Data("{}".utf8)) }
        #expect(throws: SPIFFEError.self) { try X509Bundle(trustDomain: domain, spiffeBundleJSON: Data("not json".utf8)) }
    }

    @Test func caRoundTripsThroughPEM() throws {
        let (certificate, key) = try ca.pem()
        let loaded = try DevelopmentCA(certificatePEM: certificate, keyPEM: key)
        #expect(loaded.trustDomain == domain)
        #expect(try loaded.issue(id).certificates[0].issuer == ca.certificate.subject)
        #expect(throws: SPIFFEError.self) { try ca.issue(SPIFFEID(parsing: "spiffe://other.org/x")) }
    }
}
