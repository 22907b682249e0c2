import Crypto
import Foundation
import SecretSharing

/// A Keeper's share sealed with the epoch's data key (the inner layer, DESIGN §4), as it sits in
/// a `ShardDistributed` event: readable with the root key only, so an auditor who opens event
/// bodies with the audit key still never sees a share. Bound to the epoch and the Keeper index.
public enum SealedShard {
    public static func seal(
        _ share: Shamir.Share, rootKey: RootKey, epoch: UInt32, using generator: inout some RandomNumberGenerator
    ) throws(KeyError) -> Data {
        let nonce = (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) }
        do {
            return try AES.GCM.seal(share.value, using: rootKey.dataKey(epoch: epoch).symmetricKey, nonce: AES.GCM.Nonce(data: nonce),
                                    authenticating: associatedData(epoch: epoch, index: share.index)).combined!
        } catch {
            throw .sealedDataUnreadable("the share for Keeper \(share.index)")
        }
    }

    public static func open(_ sealed: Data, index: UInt8, rootKey: RootKey, epoch: UInt32) throws(KeyError) -> Shamir.Share {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            let value = try AES.GCM.open(box, using: rootKey.dataKey(epoch: epoch).symmetricKey, authenticating: associatedData(epoch: epoch, index: index))
            return Shamir.Share(index: index, value: Array(value))
        } catch {
            throw .sealedDataUnreadable("the sealed share for Keeper \(index)")
        }
    }

    private static func associatedData(epoch: UInt32, index: UInt8) -> [UInt8] {
        Array("spike shard v1".utf8) + epoch.bigEndianBytes + [index]
    }
}
