import Crypto

/// A public key that segment keys are sealed to. Writing needs only recipients; reading needs the
/// private key of one of them (a `LogKeyring`).
public struct LogRecipient: Sendable {
    public let publicKey: Curve25519.KeyAgreement.PublicKey

    public init(_ publicKey: Curve25519.KeyAgreement.PublicKey) {
        self.publicKey = publicKey
    }

    /// SHA-256 of the raw 32-byte public key: names the recipient inside a segment record.
    public var id: [UInt8] { Self.id(of: publicKey) }

    static func id(of key: Curve25519.KeyAgreement.PublicKey) -> [UInt8] {
        Array(SHA256.hash(data: key.rawRepresentation))
    }
}

/// The private keys a reader may use to open segment keys.
public struct LogKeyring: Sendable {
    public let privateKeys: [Curve25519.KeyAgreement.PrivateKey]

    public init(_ privateKeys: [Curve25519.KeyAgreement.PrivateKey]) {
        self.privateKeys = privateKeys
    }

    /// The ids of the keys on the ring, for error messages.
    public var recipientIDs: [[UInt8]] { privateKeys.map { LogRecipient.id(of: $0.publicKey) } }
}
