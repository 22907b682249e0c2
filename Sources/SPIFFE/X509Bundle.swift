import Foundation
import SwiftASN1
import X509

/// The X.509 authorities of one trust domain: the roots that SVIDs of that trust domain must
/// chain to (X509-SVID §5.1, Workload API §4.6).
public struct X509Bundle: Sendable, Equatable {
    public let trustDomain: TrustDomain
    public var authorities: [Certificate]

    public init(trustDomain: TrustDomain, authorities: [Certificate]) {
        self.trustDomain = trustDomain
        self.authorities = authorities
    }

    /// Reads the CA certificates of a PEM file or string (one or more `CERTIFICATE` blocks).
    public init(trustDomain: TrustDomain, pem: String) throws(SPIFFEError) {
        self.init(trustDomain: trustDomain, authorities: try Certificate.chain(pem: pem, what: "bundle"))
    }

    /// Reads a SPIFFE bundle (SPIFFE_Trust_Domain_and_Bundle §4): a JWK set whose `x509-svid`
    /// keys each carry one DER CA certificate in `x5c[0]`. Keys of unknown `kty` or `use`, and
    /// JWT keys, are ignored; an empty `keys` array is a valid bundle that trusts nothing.
    public init(trustDomain: TrustDomain, spiffeBundleJSON data: Data) throws(SPIFFEError) {
        struct Document: Decodable {
            struct Key: Decodable {
                var kty: String?
                var use: String?
                var x5c: [String]?
            }
            var keys: [Key]?
        }
        let document: Document
        do { document = try JSONDecoder().decode(Document.self, from: data) } catch {
            throw .invalidBundle("not a JSON bundle document: \(error)")
        }
        guard let keys = document.keys else { throw .invalidBundle("the bundle has no 'keys' member") }
        var authorities: [Certificate] = []
        for key in keys where key.use == "x509-svid" && key.kty != nil {
            guard let first = key.x5c?.first, let der = Data(base64Encoded: first) else {
                throw .invalidBundle("an x509-svid key has no base64 x5c certificate")
            }
            do { authorities.append(try Certificate(derEncoded: Array(der))) } catch {
                throw .invalidBundle("an x509-svid key's certificate does not parse: \(error)")
            }
        }
        self.init(trustDomain: trustDomain, authorities: authorities)
    }

    /// The authorities as PEM.
    public func pem() throws -> String {
        try authorities.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n") + "\n"
    }
}

/// Bundles by trust domain: one's own and any federated ones.
public struct X509BundleSet: Sendable, Equatable {
    public private(set) var bundles: [TrustDomain: X509Bundle]

    public init(_ bundles: [X509Bundle] = []) {
        self.bundles = Dictionary(bundles.map { ($0.trustDomain, $0) }) { first, second in
            X509Bundle(trustDomain: first.trustDomain, authorities: first.authorities + second.authorities)
        }
    }

    public subscript(domain: TrustDomain) -> X509Bundle? { bundles[domain] }

    public mutating func insert(_ bundle: X509Bundle) { bundles[bundle.trustDomain] = bundle }
}

extension Certificate {
    /// Every `CERTIFICATE` block of a PEM string, in order.
    static func chain(pem: String, what: String) throws(SPIFFEError) -> [Certificate] {
        let documents: [PEMDocument]
        do { documents = try PEMDocument.parseMultiple(pemString: pem) } catch {
            throw .invalidPEM("\(what): \(error)")
        }
        var certificates: [Certificate] = []
        for document in documents where document.discriminator == "CERTIFICATE" {
            do { certificates.append(try Certificate(pemDocument: document)) } catch {
                throw .invalidPEM("\(what): a certificate does not parse: \(error)")
            }
        }
        guard !certificates.isEmpty else { throw .invalidPEM("\(what): no CERTIFICATE block") }
        return certificates
    }
}
