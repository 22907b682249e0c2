import Crypto
import Foundation
import SecretSharing

/// Everything a rotation makes (ADR-0009), as `EpochGenesis` does for an initialization: a new
/// root key, the new epoch's log key pair, the `RootKeyRotated` event, one sealed share per
/// Keeper, and the link (the new key wrapped under the old one) for the key table. Pure: a
/// function of its inputs and the random source.
public struct RootKeyRotation: Sendable {
    public let event: RootKeyRotated
    public let rootKey: RootKey
    public let distributions: [ShardDistributed]
    /// Keeper index → its new share.
    public let shares: [Int: Shamir.Share]
    /// The link's key-table entry: `event.link` → this value.
    public let linkValue: [UInt8]

    public static func create(
        from oldKey: RootKey, current: EpochStarted, currentRotation: RootKeyRotated?, epoch: UInt32, at: Int64,
        using generator: inout some RandomNumberGenerator
    ) throws(KeyError) -> RootKeyRotation {
        let unmovable = current.passwordWraps.filter { !$0.isResealable }.map(\.admin)
        guard unmovable.isEmpty else {
            throw .sealedDataUnreadable("the password wraps of \(unmovable.joined(separator: ", ")) predate rotations; "
                                        + "change each password once (`spike admin password change NAME`) before rotating")
        }
        let rootKey = RootKey.generate(using: &generator)
        let shares = try rootKey.split(threshold: current.threshold, shares: current.shares, using: &generator)
        var raw = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        defer { Shamir.zero(&raw) }
        let epochKey: Curve25519.KeyAgreement.PrivateKey
        let wrappedEpochKey: Data
        do {
            epochKey = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw)
            wrappedEpochKey = try AES.GCM.seal(raw, using: rootKey.logKey(epoch: epoch), nonce: nonce(&generator),
                                               authenticating: EpochStarted.epochKeyAssociatedData(epoch)).combined!
        } catch {
            throw .sealedDataUnreadable("the epoch key")
        }
        var previous = try currentRotation.map { rotation throws(KeyError) in
            try PreviousKeys.open(rotation.previousKeys, rootKey: oldKey, epoch: rotation.epoch)
        } ?? PreviousKeys()
        previous.keys[current.epoch] = PreviousKeys.Epoch(rootKey: oldKey, epoch: current.epoch)
        let linkID = Array("r".utf8) + epoch.bigEndianBytes
        var plain = rootKey.copyBytes()
        defer { Shamir.zero(&plain) }
        let link: [UInt8]
        do {
            link = Array(try AES.GCM.seal(plain, using: oldKey.rotationLinkKey(epoch: epoch), nonce: nonce(&generator),
                                          authenticating: Self.linkData(epoch)).combined!)
        } catch {
            throw .sealedDataUnreadable("the rotation link")
        }
        let next = EpochStarted(
            epoch: epoch, shares: current.shares, threshold: current.threshold, keepers: current.keepers,
            epochPublicKey: epochKey.publicKey.rawRepresentation, wrappedEpochPrivateKey: wrappedEpochKey,
            passwordWraps: try current.passwordWraps.map { wrap throws(KeyError) in try wrap.resealed(rootKey, epoch: epoch) },
            keyCheckValue: Data(rootKey.keyCheckValue))
        let event = RootKeyRotated(
            fromEpoch: current.epoch, next: next, previousKeyCheckValue: current.keyCheckValue,
            previousKeys: try previous.sealed(rootKey: rootKey, epoch: epoch, using: &generator), link: Data(linkID), at: at)
        var distributions: [ShardDistributed] = []
        var byKeeper: [Int: Shamir.Share] = [:]
        for share in shares {
            let keeper = Int(share.index)
            distributions.append(ShardDistributed(
                epoch: epoch, keeper: keeper, keeperURL: current.keepers[keeper - 1],
                sealedShard: try SealedShard.seal(share, rootKey: rootKey, epoch: epoch, using: &generator)))
            byKeeper[keeper] = share
        }
        return RootKeyRotation(event: event, rootKey: rootKey, distributions: distributions, shares: byKeeper, linkValue: link)
    }

    /// The new root key of a rotation to `epoch` from its link, opened with the old key.
    public static func openLink(_ link: [UInt8], oldKey: RootKey, epoch: UInt32) throws(KeyError) -> RootKey {
        do {
            var plain = Array(try AES.GCM.open(AES.GCM.SealedBox(combined: link), using: oldKey.rotationLinkKey(epoch: epoch),
                                               authenticating: linkData(epoch)))
            defer { Shamir.zero(&plain) }
            return try RootKey(bytes: plain)
        } catch {
            throw .sealedDataUnreadable("the rotation link")
        }
    }

    private static func linkData(_ epoch: UInt32) -> [UInt8] { Array("spike rotation link v1".utf8) + epoch.bigEndianBytes }

    private static func nonce(_ generator: inout some RandomNumberGenerator) throws -> AES.GCM.Nonce {
        try AES.GCM.Nonce(data: (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}

/// The keys of earlier epochs that a rotated epoch still needs: the cipher key (ciphertexts
/// clients hold decrypt after a rotation) and the event-authentication key (the records written
/// before it still check). Sealed in `RootKeyRotated.previousKeys` under the new root key.
public struct PreviousKeys: Codable, Sendable {
    public struct Epoch: Codable, Sendable {
        public var cipher: Data
        public var eventAuthentication: Data

        init(rootKey: RootKey, epoch: UInt32) {
            cipher = rootKey.cipherKey(epoch: epoch).withUnsafeBytes { Data($0) }
            eventAuthentication = rootKey.eventAuthenticationKey(epoch: epoch).withUnsafeBytes { Data($0) }
        }
    }

    public var keys: [UInt32: Epoch] = [:]

    public init() {}

    public static func open(_ sealed: Data, rootKey: RootKey, epoch: UInt32) throws(KeyError) -> PreviousKeys {
        do {
            let plain = try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: rootKey.previousKeysKey(epoch: epoch),
                                         authenticating: Self.associatedData(epoch))
            return try JSONDecoder().decode(PreviousKeys.self, from: plain)
        } catch {
            throw .sealedDataUnreadable("the previous epochs' keys")
        }
    }

    func sealed(rootKey: RootKey, epoch: UInt32, using generator: inout some RandomNumberGenerator) throws(KeyError) -> Data {
        do {
            let nonce = try AES.GCM.Nonce(data: (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) })
            return try AES.GCM.seal(try JSONEncoder().encode(self), using: rootKey.previousKeysKey(epoch: epoch), nonce: nonce,
                                    authenticating: Self.associatedData(epoch)).combined!
        } catch {
            throw .sealedDataUnreadable("the previous epochs' keys")
        }
    }

    private static func associatedData(_ epoch: UInt32) -> [UInt8] { Array("spike previous keys v1".utf8) + epoch.bigEndianBytes }
}
