import Crypto
import Projections

/// The keys of an epoch's data, derived from the root key once it is in memory (DESIGN §4).
public struct DataKeys: Sendable {
    public var epoch: UInt32
    /// HKDF(R, "data", epoch): wraps version keys, seals shards.
    public var data: SymmetricKey
    /// HKDF(R, "cipher", epoch): encryption as a service.
    public var cipher: SymmetricKey
    /// R itself, for SPIKE Bootstrap's proof (it encrypts with R).
    public var root: SymmetricKey
    /// HKDF(R, "event auth", epoch): authenticates the data events (`EventKind.authenticated`).
    public var eventAuthentication: SymmetricKey

    public init(rootKey: RootKey, epoch: UInt32) {
        self.epoch = epoch
        data = rootKey.dataKey(epoch: epoch)
        cipher = rootKey.cipherKey(epoch: epoch)
        var bytes = rootKey.copyBytes()
        defer { bytes.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        root = SymmetricKey(data: bytes)
        eventAuthentication = rootKey.eventAuthenticationKey(epoch: epoch)
    }
}
