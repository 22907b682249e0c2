import Crypto
import EventLog
import SecretSharing

/// Opens the sealed fields that the root key opens, for an export's HMACs to be of clear values
/// (equal secrets and shares correlate across versions and paths): a secret version's values
/// (its version key from the key table, wrapped under the current epoch's data key) and a
/// Keeper's share of the current epoch. What it cannot open is HMAC-ed as sealed bytes.
public struct RootKeyOpener: SealedFieldOpener {
    let rootKey: RootKey
    let epoch: UInt32
    let versionKeys: [[UInt8]: [UInt8]]
    /// Derived once, not for every event: its contexts serve the export's workers.
    let dataKey: DataKey

    public init(rootKey: RootKey, epoch: UInt32, versionKeys: [[UInt8]: [UInt8]]) {
        self.rootKey = rootKey
        self.epoch = epoch
        self.versionKeys = versionKeys
        dataKey = rootKey.dataKey(epoch: epoch)
    }

    public func clearValue(of field: String, kind: UInt16, body: UnsafeRawBufferPointer, epoch recordEpoch: UInt32) -> [UInt8]? {
        guard let event = try? DomainEvent.decode(kind: kind, body: body) else { return nil }
        switch event.payload {
        case let put as SecretPut where field == "sealedValue":
            let keyID = Array(put.keyID)
            guard let wrapped = versionKeys[keyID] else { return nil }
            return try? VersionSeal.openJSON(put.sealedValue, wrappedKey: wrapped, keyID: keyID, path: put.path, version: put.version,
                                             epoch: put.epoch ?? recordEpoch, dataKey: dataKey)
        case let distributed as ShardDistributed where field == "sealedShard" && distributed.epoch == epoch:
            return try? SealedShard.open(distributed.sealedShard, index: UInt8(clamping: distributed.keeper), rootKey: rootKey, epoch: epoch).value
        default:
            return nil
        }
    }
}
