import Foundation
import SwiftASN1
import X509

/// Validates a peer's X.509-SVID (X509-SVID §5): the chain must build, by RFC 5280, to the bundle
/// of the trust domain that the leaf's SPIFFE ID names, valid now; the leaf must have
/// exactly one URI SAN holding a SPIFFE ID with a path, must not be a CA or sign certificates or
/// CRLs, must have a critical key usage with digital signature, and, if it has an extended key
/// usage, both server and client authentication. Intermediates must be CAs that sign certificates.
public enum X509SVIDValidator {
    /// Returns the SPIFFE ID of a valid chain (leaf first).
    public static func validate(
        chain: [Certificate], bundles: X509BundleSet
    ) async throws(SPIFFEError) -> SPIFFEID {
        try await validatedChain(chain, bundles: bundles).id
    }

    /// Returns the SPIFFE ID of a valid chain and the verified path from the leaf to a root of
    /// its bundle.
    public static func validatedChain(
        _ chain: [Certificate], bundles: X509BundleSet
    ) async throws(SPIFFEError) -> (id: SPIFFEID, path: [Certificate]) {
        guard let leaf = chain.first else { throw .verificationFailed("the peer presented no certificate") }
        let id = try checkLeaf(leaf)
        guard let bundle = bundles[id.trustDomain] else { throw .noBundle(id.trustDomain) }
        var verifier = Verifier(rootCertificates: CertificateStore(bundle.authorities)) {
            RFC5280Policy()  // includes validity at the current time
            SPIFFEChainPolicy()
        }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst()))
        switch result {
        case .validCertificate(let path):
            return (id, Array(path))
        case .couldNotValidate(let failures):
            let reasons = failures.map { "\($0.policyFailureReason)" }
            throw .verificationFailed(reasons.isEmpty
                ? "no chain to the \(id.trustDomain) bundle"
                : Array(Set(reasons)).sorted().joined(separator: "; "))
        }
    }

    /// The leaf rules that need no bundle; returns the leaf's SPIFFE ID.
    public static func checkLeaf(_ leaf: Certificate) throws(SPIFFEError) -> SPIFFEID {
        let uris: [String]
        do {
            uris = try leaf.uriSANs()
        } catch {
            throw .invalidSVID("its subject alternative names do not parse: \(error)")
        }
        guard !uris.isEmpty else { throw .invalidSVID("the leaf has no URI SAN (no SPIFFE ID)") }
        guard uris.count == 1 else { throw .invalidSVID("the leaf has \(uris.count) URI SANs; an SVID has exactly one") }
        let id: SPIFFEID
        do { id = try SPIFFEID(parsing: uris[0]) } catch { throw .invalidSVID("its URI SAN is not a SPIFFE ID: \(error)") }
        guard !id.path.isEmpty else { throw .invalidSVID("the leaf's SPIFFE ID \(id) has no path") }
        if leaf.subject.isEmpty, leaf.extensions[oid: .X509ExtensionID.subjectAlternativeName]?.critical != true {
            throw .invalidSVID("the leaf has an empty subject, so its URI SAN must be critical")
        }
        if case .isCertificateAuthority = try? leaf.extensions.basicConstraints {
            throw .invalidSVID("the leaf is a CA certificate")
        }
        guard let usageExtension = leaf.extensions[oid: .X509ExtensionID.keyUsage],
              let usage = try? KeyUsage(usageExtension) else {
            throw .invalidSVID("the leaf has no key usage extension")
        }
        guard usageExtension.critical else { throw .invalidSVID("the leaf's key usage is not critical") }
        guard usage.digitalSignature else { throw .invalidSVID("the leaf's key usage lacks digital signature") }
        guard !usage.keyCertSign else { throw .invalidSVID("the leaf's key usage has certificate signing") }
        guard !usage.cRLSign else { throw .invalidSVID("the leaf's key usage has CRL signing") }
        if let extended = try? leaf.extensions.extendedKeyUsage {
            guard extended.contains(.serverAuth), extended.contains(.clientAuth) else {
                throw .invalidSVID("the leaf's extended key usage must include both server and client authentication")
            }
        }
        return id
    }

    /// The rules for a certificate that signs others in an SVID chain.
    static func checkSigningCertificate(_ certificate: Certificate) throws(SPIFFEError) {
        guard case .isCertificateAuthority = try? certificate.extensions.basicConstraints else {
            throw .invalidSVID("a signing certificate (\(certificate.subject)) is not a CA")
        }
        guard let usage = try? certificate.extensions.keyUsage, usage.keyCertSign else {
            throw .invalidSVID("a signing certificate (\(certificate.subject)) lacks certificate signing in its key usage")
        }
    }
}

/// The SPIFFE rules swift-certificates' RFC 5280 policy leaves out: it handles neither a critical
/// SAN nor a critical EKU, and does not police key usage on signing certificates.
struct SPIFFEChainPolicy: VerifierPolicy {
    let verifyingCriticalExtensions: [ASN1ObjectIdentifier] = [
        .X509ExtensionID.subjectAlternativeName,
        .X509ExtensionID.extendedKeyUsage,
    ]

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) async -> PolicyEvaluationResult {
        do {
            _ = try X509SVIDValidator.checkLeaf(chain.leaf)
            for signer in chain.dropFirst() {
                try X509SVIDValidator.checkSigningCertificate(signer)
            }
            return .meetsPolicy
        } catch {
            return .failsToMeetPolicy(reason: "\(error)")
        }
    }
}
