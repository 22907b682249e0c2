import Crypto
import Foundation
import SwiftASN1
import X509

/// An X.509-SVID: a certificate chain (leaf first) whose leaf names one SPIFFE ID, and the
/// leaf's private key.
public struct X509SVID: Sendable {
    public let id: SPIFFEID
    public let certificates: [Certificate]
    public let privateKey: Certificate.PrivateKey

    /// Takes a chain and key, checking the leaf the way X509-SVID §3–§4 asks of one's own SVID
    /// (go-spiffe's `x509svid.Parse`): one URI SAN with a non-root SPIFFE ID, not a CA, digital
    /// signature, no certificate or CRL signing; the key matches the leaf.
    public init(certificates: [Certificate], privateKey: Certificate.PrivateKey) throws(SPIFFEError) {
        guard let leaf = certificates.first else { throw .invalidSVID("the chain is empty") }
        let id = try X509SVIDValidator.checkLeaf(leaf)
        guard leaf.publicKey == privateKey.publicKey else {
            throw .invalidSVID("the private key does not match the leaf certificate")
        }
        for signer in certificates.dropFirst() {
            try X509SVIDValidator.checkSigningCertificate(signer)
        }
        self.id = id
        self.certificates = certificates
        self.privateKey = privateKey
    }

    /// Reads a chain (PEM `CERTIFICATE` blocks, leaf first) and a PKCS#8 or SEC1 private key.
    public init(certificatePEM: String, keyPEM: String) throws(SPIFFEError) {
        let chain = try Certificate.chain(pem: certificatePEM, what: "SVID certificate")
        let key: Certificate.PrivateKey
        do { key = try Certificate.PrivateKey(pemEncoded: keyPEM) } catch {
            throw .invalidPEM("SVID key: \(error)")
        }
        try self.init(certificates: chain, privateKey: key)
    }

    public var leaf: Certificate { certificates[0] }

    /// The chain as PEM, leaf first.
    public func certificatesPEM() throws -> String {
        try certificates.map { try $0.serializeAsPEM().pemString }.joined(separator: "\n") + "\n"
    }

    public func privateKeyPEM() throws -> String {
        try privateKey.serializeAsPEM().pemString + "\n"
    }
}
