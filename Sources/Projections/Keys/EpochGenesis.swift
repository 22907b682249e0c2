import Crypto
import Foundation
import SecretSharing

/// Everything an initialization makes (DESIGN §4): a root key, the epoch's log key pair, the
/// genesis event that records their public and wrapped forms, and one sealed share per Keeper.
/// A pure function of its inputs and the random source, so the simulator can replay it.
public struct EpochGenesis: Sendable {
    public let event: EpochStarted
    public let rootKey: RootKey
    public let distributions: [ShardDistributed]
    /// Keeper index → its share, to send once the events are durable.
    public let shares: [Int: Shamir.Share]

    public static func create(
        epoch: UInt32, keepers: [String], threshold: Int, password: String, admin: String,
        cost: PasswordWrap.Cost = .standard, at: Int64? = nil, using generator: inout some RandomNumberGenerator
    ) throws(KeyError) -> EpochGenesis {
        let rootKey = RootKey.generate(using: &generator)
        let shares = try rootKey.split(threshold: threshold, shares: keepers.count, using: &generator)
        var raw = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        defer { Shamir.zero(&raw) }
        let epochKey: Curve25519.KeyAgreement.PrivateKey
        do { epochKey = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw) } catch {
            throw .sealedDataUnreadable("the epoch key")
        }
        let nonce = (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let wrappedEpochKey: Data
        do {
            wrappedEpochKey = try AES.GCM.seal(raw, using: rootKey.logKey(epoch: epoch), nonce: AES.GCM.Nonce(data: nonce),
                                               authenticating: EpochStarted.epochKeyAssociatedData(epoch)).combined!
        } catch {
            throw .sealedDataUnreadable("the epoch key")
        }
        let wrap = try PasswordWrap.wrap(rootKey, password: password, admin: admin, epoch: epoch, cost: cost, at: at, using: &generator)
        let event = EpochStarted(
            epoch: epoch, shares: keepers.count, threshold: threshold, keepers: keepers,
            epochPublicKey: epochKey.publicKey.rawRepresentation, wrappedEpochPrivateKey: wrappedEpochKey,
            passwordWraps: [wrap], keyCheckValue: Data(rootKey.keyCheckValue))
        var distributions: [ShardDistributed] = []
        var byKeeper: [Int: Shamir.Share] = [:]
        for share in shares {
            let keeper = Int(share.index)
            distributions.append(ShardDistributed(
                epoch: epoch, keeper: keeper, keeperURL: keepers[keeper - 1],
                sealedShard: try SealedShard.seal(share, rootKey: rootKey, epoch: epoch, using: &generator)))
            byKeeper[keeper] = share
        }
        return EpochGenesis(event: event, rootKey: rootKey, distributions: distributions, shares: byKeeper)
    }
}

extension EpochStarted {
    static func epochKeyAssociatedData(_ epoch: UInt32) -> [UInt8] {
        Array("spike epoch key v1".utf8) + epoch.bigEndianBytes
    }

    /// The epoch's private log key, opened with the root key.
    public func epochPrivateKey(rootKey: RootKey) throws(KeyError) -> Curve25519.KeyAgreement.PrivateKey {
        do {
            let box = try AES.GCM.SealedBox(combined: wrappedEpochPrivateKey)
            var raw = Array(try AES.GCM.open(box, using: rootKey.logKey(epoch: epoch), authenticating: Self.epochKeyAssociatedData(epoch)))
            defer { Shamir.zero(&raw) }
            return try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw)
        } catch {
            throw .sealedDataUnreadable("the epoch's wrapped private key")
        }
    }

    /// The public key segment keys of this epoch are sealed to.
    public func logRecipientKey() throws(KeyError) -> Curve25519.KeyAgreement.PublicKey {
        do { return try Curve25519.KeyAgreement.PublicKey(rawRepresentation: epochPublicKey) } catch {
            throw .sealedDataUnreadable("the epoch public key")
        }
    }
}
