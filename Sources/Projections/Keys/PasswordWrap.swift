import CLibCrypto
import Crypto
import Foundation
import SecretSharing

/// One copy of the root key wrapped under an admin password (DESIGN §4), so the loss of every
/// Keeper is survivable with the password. The admin has an X25519 key pair: its private half is
/// sealed (AES-256-GCM) under scrypt(password, salt), and the root key is sealed to its public
/// half with HPKE (RFC 9180), bound to the epoch and the admin's name. A new root key can thus be
/// wrapped for every admin without their passwords (`resealed`, what a rotation needs).
///
/// A wrap without `publicKey` is of the first form, the root key itself under scrypt: it still
/// opens, but a rotation cannot move it (its admin changes the password once first).
public struct PasswordWrap: Codable, Equatable, Sendable {
    /// scrypt's cost: N = 2^logN, r, p. The default is twice OWASP's minimum (N = 2^18, r = 8,
    /// p = 1: 256 MiB, about a second on the 2-core machine this project is measured on): the
    /// strongest that keeps `spike recover` under 2 s there (ADR-0012). Each wrap records its own.
    public struct Cost: Codable, Equatable, Sendable {
        public var logN: UInt8
        public var r: UInt32
        public var p: UInt32

        public init(logN: UInt8, r: UInt32, p: UInt32) {
            self.logN = logN
            self.r = r
            self.p = p
        }

        public static let standard = Cost(logN: 18, r: 8, p: 1)
        /// For simulations and unit tests only: microseconds instead of a quarter second.
        public static let testing = Cost(logN: 4, r: 8, p: 1)
    }

    /// What an export must not show of a wrap: what a password guess is tried against offline.
    public static let sealedFields = ["salt", "sealed", "sealedRootKey"]

    public var admin: String
    public var salt: Data
    public var cost: Cost
    /// nonce ‖ ciphertext ‖ tag, under scrypt(password, salt): the admin's X25519 private key (or,
    /// in a wrap of the first form, the root key).
    public var sealed: Data
    /// The admin's X25519 public key; nil in a wrap of the first form.
    public var publicKey: Data?
    /// HPKE's encapsulated key (32) ‖ the root key sealed to `publicKey` (48).
    public var sealedRootKey: Data?
    /// When the wrap was made (milliseconds since 1970), for `spike admin password list`;
    /// absent in wraps written before it was recorded.
    public var at: Int64?

    public init(admin: String, salt: Data, cost: Cost, sealed: Data, publicKey: Data? = nil, sealedRootKey: Data? = nil, at: Int64? = nil) {
        self.admin = admin
        self.salt = salt
        self.cost = cost
        self.sealed = sealed
        self.publicKey = publicKey
        self.sealedRootKey = sealedRootKey
        self.at = at
    }

    public static func wrap(
        _ rootKey: RootKey, password: String, admin: String, epoch: UInt32, cost: Cost = .standard, at: Int64? = nil,
        using generator: inout some RandomNumberGenerator
    ) throws(KeyError) -> PasswordWrap {
        if let why = PasswordRule.refusal(of: password) { throw .weakPassword(why) }
        let salt = Data((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let wrapKey = try derive(password: password, salt: salt, cost: cost)
        var raw = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        defer { Shamir.zero(&raw) }
        let nonceBytes = (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let adminKey: Curve25519.KeyAgreement.PrivateKey
        let sealedPrivateKey: Data
        do {
            adminKey = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw)
            sealedPrivateKey = try AES.GCM.seal(raw, using: wrapKey, nonce: try AES.GCM.Nonce(data: nonceBytes),
                                                authenticating: privateKeyData(admin: admin)).combined!
        } catch {
            throw .sealedDataUnreadable("the password wrap")
        }
        var wrap = PasswordWrap(admin: admin, salt: salt, cost: cost, sealed: sealedPrivateKey,
                                publicKey: adminKey.publicKey.rawRepresentation, sealedRootKey: nil, at: at)
        wrap.sealedRootKey = try wrap.seal(rootKey, epoch: epoch)
        return wrap
    }

    /// Whether a new root key can be wrapped for this admin without the password.
    public var isResealable: Bool { publicKey != nil }

    /// The same admin and password wrapping `rootKey` of `epoch` instead: no password needed.
    public func resealed(_ rootKey: RootKey, epoch: UInt32) throws(KeyError) -> PasswordWrap {
        var wrap = self
        wrap.sealedRootKey = try seal(rootKey, epoch: epoch)
        return wrap
    }

    private func seal(_ rootKey: RootKey, epoch: UInt32) throws(KeyError) -> Data {
        guard let publicKey else { throw .sealedDataUnreadable("a password wrap of the first form (change the password once)") }
        var plain = rootKey.copyBytes()
        defer { Shamir.zero(&plain) }
        do {
            var sender = try HPKE.Sender(recipientKey: try Curve25519.KeyAgreement.PublicKey(rawRepresentation: publicKey),
                                         ciphersuite: Self.ciphersuite, info: Self.rootKeyInfo(admin: admin, epoch: epoch))
            return sender.encapsulatedKey + (try sender.seal(plain))
        } catch {
            throw .sealedDataUnreadable("the password wrap")
        }
    }

    /// The root key, if `password` is the admin's.
    public func unwrap(password: String, epoch: UInt32) throws(KeyError) -> RootKey {
        let wrapKey = try Self.derive(password: password, salt: salt, cost: cost)
        guard let publicKey, let sealedRootKey, sealedRootKey.count > 32 else {
            // The first form: the root key itself under the password.
            var plain = try Self.open(sealed, wrapKey, authenticating: Self.associatedData(admin: admin, epoch: epoch))
            defer { Shamir.zero(&plain) }
            return try RootKey(bytes: plain)
        }
        var raw = try Self.open(sealed, wrapKey, authenticating: Self.privateKeyData(admin: admin))
        defer { Shamir.zero(&raw) }
        do {
            let adminKey = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw)
            guard adminKey.publicKey.rawRepresentation == publicKey else { throw KeyError.wrongPassword }
            var recipient = try HPKE.Recipient(privateKey: adminKey, ciphersuite: Self.ciphersuite,
                                               info: Self.rootKeyInfo(admin: admin, epoch: epoch),
                                               encapsulatedKey: sealedRootKey.prefix(32))
            var plain = Array(try recipient.open(sealedRootKey.dropFirst(32)))
            defer { Shamir.zero(&plain) }
            return try RootKey(bytes: plain)
        } catch {
            // The password opened the admin's key, but this is not the wrap of this epoch's key.
            throw .wrongPassword
        }
    }

    private static func open(_ sealed: Data, _ key: SymmetricKey, authenticating data: [UInt8]) throws(KeyError) -> [UInt8] {
        do {
            return Array(try AES.GCM.open(try AES.GCM.SealedBox(combined: sealed), using: key, authenticating: data))
        } catch {
            throw .wrongPassword
        }
    }

    static let ciphersuite = HPKE.Ciphersuite(kem: .Curve25519_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .AES_GCM_256)

    private static func privateKeyData(admin: String) -> [UInt8] {
        Array("spike admin key v2".utf8) + Array(admin.utf8)
    }

    private static func rootKeyInfo(admin: String, epoch: UInt32) -> Data {
        Data("spike password wrap v2".utf8 + epoch.bigEndianBytes + Array(admin.utf8))
    }

    private static func associatedData(admin: String, epoch: UInt32) -> [UInt8] {
        Array("spike password wrap v1".utf8) + epoch.bigEndianBytes + Array(admin.utf8)
    }

    /// scrypt through libcrypto (OpenSSL 3's `EVP_PBE_scrypt`).
    static func derive(password: String, salt: Data, cost: Cost) throws(KeyError) -> SymmetricKey {
        guard (1...22).contains(cost.logN), cost.r >= 1, cost.p >= 1, UInt64(cost.r) * UInt64(cost.p) < 1 << 30 else {
            throw .invalidScryptParameters("logN \(cost.logN), r \(cost.r), p \(cost.p)")
        }
        let n = UInt64(1) << UInt64(cost.logN)
        // scrypt needs 128·r·N bytes (plus 128·r·p); allow twice that.
        let maxMemory = 256 * UInt64(cost.r) * (n + UInt64(cost.p)) + (1 << 20)
        var out = [UInt8](repeating: 0, count: 32)
        defer { Shamir.zero(&out) }
        let password = Array(password.utf8)
        let status = password.withUnsafeBufferPointer { pass in
            salt.withUnsafeBytes { saltBytes in
                EVP_PBE_scrypt(
                    pass.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, pass.count,
                    saltBytes.bindMemory(to: UInt8.self).baseAddress, saltBytes.count,
                    n, UInt64(cost.r), UInt64(cost.p), maxMemory, &out, out.count)
            }
        }
        guard status == 1 else { throw .invalidScryptParameters("libcrypto refused them (memory limit \(maxMemory) bytes)") }
        return SymmetricKey(data: out)
    }
}
