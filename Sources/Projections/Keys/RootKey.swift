import Crypto
import Foundation
import SecretSharing

/// The Nexus' root key R (DESIGN §4): 32 random bytes that exist in memory only. Everything
/// else is derived from it: the data key that seals shards and secret values inside event
/// bodies, the key that wraps the epoch's private log key, and the key check value that tells a
/// right reconstruction from a wrong one. The bytes live in a `SymmetricKey`, which zeroes its
/// storage when released; printing a root key shows nothing of it.
public struct RootKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public static let length = 32
    let key: SymmetricKey

    /// A fresh root key from the system's random source.
    public static func generate() -> RootKey {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    /// A root key from `generator` (a seeded one in the simulator; the system's otherwise).
    public static func generate(using generator: inout some RandomNumberGenerator) -> RootKey {
        while true {
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            defer { Shamir.zero(&bytes) }
            if let key = try? RootKey(bytes: bytes) { return key }
        }
    }

    /// Adopts `bytes` (32, not all zero: an all-zero key is what "no key" looks like in SPIKE).
    public init(bytes: [UInt8]) throws(KeyError) {
        guard bytes.count == Self.length else { throw .wrongRootKeyLength(bytes.count) }
        guard bytes.contains(where: { $0 != 0 }) else { throw .zeroRootKey }
        key = SymmetricKey(data: bytes)
    }

    /// HMAC-SHA256(R, "spike key check"): stored in the genesis, proves a reconstruction.
    public var keyCheckValue: [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("spike key check".utf8), using: key))
    }

    /// Whether this key is the one whose check value is `expected` (constant-time compare).
    public func matches(keyCheckValue expected: [UInt8]) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(expected, authenticating: Array("spike key check".utf8), using: key)
    }

    /// HKDF(R, "data", epoch): seals shards and secret values inside event bodies.
    public func dataKey(epoch: UInt32) -> DataKey { DataKey(derive("data", epoch: epoch)) }

    /// HKDF(R, "log", epoch): wraps the epoch's private log key.
    public func logKey(epoch: UInt32) -> SymmetricKey { derive("log", epoch: epoch) }

    /// HKDF(R, "cipher", epoch): the key of encryption as a service (`/v1/cipher/*`).
    public func cipherKey(epoch: UInt32) -> SymmetricKey { derive("cipher", epoch: epoch) }

    /// HKDF(R, "event auth", epoch): authenticates the data events of the epoch
    /// (`EventAuthenticator`), so that the host audit key, which can seal bodies, cannot add one.
    public func eventAuthenticationKey(epoch: UInt32) -> SymmetricKey { derive("event auth", epoch: epoch) }

    /// HKDF(R, "log head", epoch): authenticates the log heads the Nexus hands its Keepers to
    /// witness (`LogWitness`), so that a head nobody with R made is never taken for one.
    public func witnessKey(epoch: UInt32) -> SymmetricKey { derive("log head", epoch: epoch) }

    /// HKDF(R, "rotation", epoch): wraps the next root key while a rotation to `epoch` completes.
    public func rotationLinkKey(epoch: UInt32) -> SymmetricKey { derive("rotation", epoch: epoch) }

    /// HKDF(R, "previous keys", epoch): seals the earlier epochs' keys a rotation carries over.
    public func previousKeysKey(epoch: UInt32) -> SymmetricKey { derive("previous keys", epoch: epoch) }

    /// HKDF(R, "snapshot", epoch): seals the checkpoints of the data projection
    /// (`ProjectionSnapshot`), so that no one without R can make one a start would trust.
    public func snapshotKey(epoch: UInt32) -> SymmetricKey { derive("snapshot", epoch: epoch) }

    private func derive(_ purpose: String, epoch: UInt32) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, salt: [UInt8](), info: Array(purpose.utf8) + epoch.bigEndianBytes, outputByteCount: 32)
    }

    /// The bytes, for splitting and wrapping. Zero the copy when done (`Shamir.zero`).
    public func copyBytes() -> [UInt8] { key.withUnsafeBytes { Array($0) } }

    /// Splits R into `shares` Shamir shares, any `threshold` of which give it back.
    public func split(threshold: Int, shares: Int, using generator: inout some RandomNumberGenerator) throws(KeyError) -> [Shamir.Share] {
        var bytes = copyBytes()
        defer { Shamir.zero(&bytes) }
        do {
            return try Shamir.split(bytes, threshold: threshold, shares: shares, using: &generator)
        } catch {
            throw .shamir(error)
        }
    }

    /// Combines shares and accepts the result only if it matches `keyCheckValue`.
    public static func combine(_ shares: [Shamir.Share], threshold: Int, keyCheckValue: [UInt8]) throws(KeyError) -> RootKey {
        var bytes: [UInt8]
        do {
            bytes = try Shamir.combine(shares, threshold: threshold)
        } catch {
            throw .shamir(error)
        }
        defer { Shamir.zero(&bytes) }
        let candidate = try RootKey(bytes: bytes)
        guard candidate.matches(keyCheckValue: keyCheckValue) else { throw .keyCheckFailed }
        return candidate
    }

    public var description: String { "RootKey(redacted)" }
    public var debugDescription: String { description }
}

extension FixedWidthInteger {
    var bigEndianBytes: [UInt8] { withUnsafeBytes(of: bigEndian) { Array($0) } }
}
