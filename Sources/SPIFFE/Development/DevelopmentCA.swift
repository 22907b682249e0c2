import Crypto
import Foundation
import SwiftASN1
import X509

/// A trust domain's certificate authority for development and tests: one self-signed P-256 CA
/// (SPIFFE ID `spiffe://<trust domain>`, no path) issuing short-lived X.509-SVIDs. Production
/// trust domains get their SVIDs from SPIRE through the Workload API instead.
public struct DevelopmentCA: Sendable {
    public let trustDomain: TrustDomain
    public let certificate: Certificate
    let privateKey: Certificate.PrivateKey

    /// Creates a new CA valid from a minute before `now` for `lifetime`.
    public init(trustDomain: TrustDomain, lifetime: TimeInterval = 365 * 24 * 3600, now: Date = Date()) throws {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let name = try DistinguishedName {
            OrganizationName("SPIKE development")
            CommonName("\(trustDomain.name) development CA")
        }
        var extensions = Certificate.Extensions()
        try extensions.append(Certificate.Extension(BasicConstraints.isCertificateAuthority(maxPathLength: nil), critical: true))
        try extensions.append(Certificate.Extension(KeyUsage(keyCertSign: true, cRLSign: true), critical: true))
        try extensions.append(Certificate.Extension(SubjectAlternativeNames([.uniformResourceIdentifier(trustDomain.id.description)]), critical: false))
        certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey,
            notValidBefore: now - 60, notValidAfter: now + lifetime,
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: key)
        privateKey = key
        self.trustDomain = trustDomain
    }

    /// Loads a CA written by `pem()`.
    public init(certificatePEM: String, keyPEM: String) throws {
        certificate = try Certificate(pemEncoded: certificatePEM)
        privateKey = try Certificate.PrivateKey(pemEncoded: keyPEM)
        guard certificate.publicKey == privateKey.publicKey else {
            throw SPIFFEError.invalidPEM("the CA key does not match the CA certificate")
        }
        guard let uri = try certificate.uriSANs().first else { throw SPIFFEError.invalidPEM("the CA certificate names no trust domain") }
        trustDomain = try TrustDomain(parsing: uri)
    }

    /// The CA certificate and its private key as PEM.
    public func pem() throws -> (certificate: String, key: String) {
        (try certificate.serializeAsPEM().pemString + "\n", try privateKey.serializeAsPEM().pemString + "\n")
    }

    /// The bundle that trusts this CA.
    public var bundle: X509Bundle { X509Bundle(trustDomain: trustDomain, authorities: [certificate]) }

    /// Issues an X.509-SVID for `id` (a member of this trust domain) with a fresh P-256 key.
    public func issue(_ id: SPIFFEID, lifetime: TimeInterval = 3600, now: Date = Date()) throws -> X509SVID {
        guard id.isMember(of: trustDomain) else {
            throw SPIFFEError.invalidSVID("\(id) is not in trust domain \(trustDomain)")
        }
        var template = LeafTemplate(uris: [id.description])
        template.notValidBefore = now - 60
        template.notValidAfter = now + lifetime
        let (certificate, key) = try issue(template)
        return try X509SVID(certificates: [certificate], privateKey: key)
    }

    /// What a leaf certificate holds. The defaults make a valid SVID; tests change them to make
    /// every kind of invalid one.
    struct LeafTemplate {
        var uris: [String]
        var subjectEmpty = false
        /// nil: critical exactly when the subject is empty, as X509-SVID §3.1 asks.
        var sanCritical: Bool?
        var basicConstraints = BasicConstraints.notCertificateAuthority
        var keyUsage: KeyUsage? = KeyUsage(digitalSignature: true, keyEncipherment: true, keyAgreement: true)
        var keyUsageCritical = true
        var extendedKeyUsage: [ExtendedKeyUsage.Usage]? = [.serverAuth, .clientAuth]
        var unknownCriticalExtension = false
        var notValidBefore = Date() - 60
        var notValidAfter = Date() + 3600
    }

    func issue(_ template: LeafTemplate) throws -> (Certificate, Certificate.PrivateKey) {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        var extensions = Certificate.Extensions()
        try extensions.append(Certificate.Extension(template.basicConstraints, critical: true))
        if let usage = template.keyUsage {
            try extensions.append(Certificate.Extension(usage, critical: template.keyUsageCritical))
        }
        if let usages = template.extendedKeyUsage {
            try extensions.append(Certificate.Extension(try ExtendedKeyUsage(usages), critical: false))
        }
        if !template.uris.isEmpty {
            let names = SubjectAlternativeNames(template.uris.map { .uniformResourceIdentifier($0) })
            try extensions.append(Certificate.Extension(names, critical: template.sanCritical ?? template.subjectEmpty))
        }
        if template.unknownCriticalExtension {
            try extensions.append(Certificate.Extension(oid: [1, 3, 6, 1, 4, 1, 55555, 1], critical: true, value: [0x05, 0x00]))
        }
        let subject = template.subjectEmpty ? DistinguishedName() : try DistinguishedName {
            OrganizationName("SPIKE development")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: key.publicKey,
            notValidBefore: template.notValidBefore, notValidAfter: template.notValidAfter,
            issuer: self.certificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions, issuerPrivateKey: privateKey)
        return (certificate, key)
    }
}
