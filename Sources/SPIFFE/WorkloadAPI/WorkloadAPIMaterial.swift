import Crypto
import SwiftASN1
import X509

extension WorkloadAPI.X509SVIDResponse {
    /// The response for one workload: its SVID, its trust domain's bundle, and federated ones.
    public init(material: X509Material, hint: String = "") throws {
        let own = material.svid.id.trustDomain
        self.init(
            svids: [WorkloadAPI.X509SVIDMessage(
                spiffeID: material.svid.id.description,
                certificates: try material.svid.certificates.flatMap { try $0.derBytes() },
                privateKey: try material.svid.privateKey.pkcs8DERBytes(),
                bundle: try (material.bundles[own]?.authorities ?? []).flatMap { try $0.derBytes() },
                hint: hint)],
            federatedBundles: try Dictionary(uniqueKeysWithValues: material.bundles.bundles.values
                .filter { $0.trustDomain != own }
                .map { ($0.trustDomain.id.description, try $0.authorities.flatMap { try $0.derBytes() }) }))
    }

    /// The default (first) SVID with its bundle and the federated bundles, checked as one's own
    /// SVID is (X509SVID's rules) and against the ID the message names.
    public func material(generation: UInt64) throws(SPIFFEError) -> X509Material {
        guard let first = svids.first else { throw .sourceUnavailable("the Workload API sent no SVID") }
        let certificates = try Certificate.splitDER(first.certificates, what: "x509_svid")
        let key: Certificate.PrivateKey
        do { key = Certificate.PrivateKey(try P256.Signing.PrivateKey(derRepresentation: first.privateKey)) } catch {
            throw .invalidSVID("x509_svid_key is not a PKCS#8 P-256 key")
        }
        let svid = try X509SVID(certificates: certificates, privateKey: key)
        guard svid.id.description == first.spiffeID else {
            throw .invalidSVID("the message names \(first.spiffeID) but the certificate \(svid.id)")
        }
        var bundles = X509BundleSet([X509Bundle(trustDomain: svid.id.trustDomain, authorities: try Certificate.splitDER(first.bundle, what: "bundle"))])
        for (name, der) in federatedBundles {
            let domain: TrustDomain
            do { domain = try TrustDomain(parsing: name) } catch { throw .invalidBundle("federated bundle key '\(name)': \(error)") }
            bundles.insert(X509Bundle(trustDomain: domain, authorities: try Certificate.splitDER(der, what: "federated bundle \(name)")))
        }
        return X509Material(svid: svid, bundles: bundles, generation: generation)
    }
}

extension Certificate {
    /// The DER encoding (for the wire and for NIOSSL).
    package func derBytes() throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(self)
        return serializer.serializedBytes
    }

    /// Certificates concatenated in DER, as the Workload API sends chains and bundles: each is a
    /// SEQUENCE whose header gives its length.
    static func splitDER(_ bytes: [UInt8], what: String) throws(SPIFFEError) -> [Certificate] {
        var certificates: [Certificate] = []
        var start = 0
        while start < bytes.count {
            guard bytes[start] == 0x30, start + 2 <= bytes.count else {
                throw .invalidPEM("\(what): not a sequence of DER certificates")
            }
            var length = Int(bytes[start + 1])
            var header = 2
            if length & 0x80 != 0 {
                let count = length & 0x7f
                guard (1...4).contains(count), start + 2 + count <= bytes.count else {
                    throw .invalidPEM("\(what): a certificate has an invalid DER length")
                }
                length = bytes[(start + 2)..<(start + 2 + count)].reduce(0) { $0 << 8 | Int($1) }
                header += count
            }
            let end = start + header + length
            guard end <= bytes.count else { throw .invalidPEM("\(what): a certificate is truncated") }
            do { certificates.append(try Certificate(derEncoded: Array(bytes[start..<end]))) } catch {
                throw .invalidPEM("\(what): a certificate does not parse: \(error)")
            }
            start = end
        }
        return certificates
    }

    /// The URI subject alternative names.
    func uriSANs() throws -> [String] {
        (try extensions.subjectAlternativeNames ?? SubjectAlternativeNames()).compactMap {
            if case .uniformResourceIdentifier(let uri) = $0 { return uri }
            return nil
        }
    }
}

extension Certificate.PrivateKey {
    /// PKCS#8 DER (from the PEM serialization, the one form every key type shares).
    func pkcs8DERBytes() throws -> [UInt8] {
        let document = try serializeAsPEM()
        guard document.discriminator == "PRIVATE KEY" else {
            throw SPIFFEError.invalidSVID("the key serializes as \(document.discriminator), not PKCS#8")
        }
        return document.derBytes
    }
}
