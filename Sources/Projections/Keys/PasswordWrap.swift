import CLibCrypto
import Crypto
import Foundation
import SecretSharing

/// One copy of the root key wrapped under an admin password (DESIGN §4): AES-256-GCM under
/// scrypt(password, salt), bound to the epoch and the admin's name by the associated data. The
/// copy lives in the genesis event, so the loss of every Keeper is survivable with the password.
public struct PasswordWrap: Codable, Equatable, Sendable {
    /// scrypt's cost: N = 2^logN, r, p. The defaults follow OWASP's minimum (N = 2^17, r = 8,
    /// p = 1: 128 MiB, a few hundred milliseconds).
    public struct Cost: Codable, Equatable, Sendable {
        public var logN: UInt8
        public var r: UInt32
        public var p: UInt32

        public init(logN: UInt8, r: UInt32, p: UInt32) {
            self.logN = logN
            self.r = r
            self.p = p
        }

        public static let standard = Cost(logN: 17, r: 8, p: 1)
        /// For simulations and unit tests only: microseconds instead of a quarter second.
        public static let testing = Cost(logN: 4, r: 8, p: 1)
    }

    public static let minimumPasswordLength = 12

    public var admin: String
    public var salt: Data
    public var cost: Cost
    /// nonce ‖ ciphertext ‖ tag.
    public var sealed: Data
    /// When the wrap was made (milliseconds since 1970), for `spike admin password list`;
    /// absent in wraps written before it was recorded.
    public var at: Int64?

    public static func wrap(
        _ rootKey: RootKey, password: String, admin: String, epoch: UInt32, cost: Cost = .standard, at: Int64? = nil,
        using generator: inout some RandomNumberGenerator
    ) throws(KeyError) -> PasswordWrap {
        guard password.utf8.count >= minimumPasswordLength else {
            throw .weakPassword("it needs at least \(minimumPasswordLength) characters")
        }
        let salt = Data((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let wrapKey = try derive(password: password, salt: salt, cost: cost)
        let nonceBytes = (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var plain = rootKey.copyBytes()
        defer { Shamir.zero(&plain) }
        do {
            let box = try AES.GCM.seal(plain, using: wrapKey, nonce: try AES.GCM.Nonce(data: nonceBytes),
                                       authenticating: associatedData(admin: admin, epoch: epoch))
            return PasswordWrap(admin: admin, salt: salt, cost: cost, sealed: box.combined!, at: at)
        } catch {
            throw .sealedDataUnreadable("the password wrap")
        }
    }

    /// The root key, if `password` is the admin's.
    public func unwrap(password: String, epoch: UInt32) throws(KeyError) -> RootKey {
        let wrapKey = try Self.derive(password: password, salt: salt, cost: cost)
        var plain: [UInt8]
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            plain = Array(try AES.GCM.open(box, using: wrapKey, authenticating: Self.associatedData(admin: admin, epoch: epoch)))
        } catch {
            throw .wrongPassword
        }
        defer { Shamir.zero(&plain) }
        return try RootKey(bytes: plain)
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
