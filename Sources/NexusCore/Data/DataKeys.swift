import Crypto
import Projections

/// The keys of an epoch's data, derived from the root key once it is in memory (DESIGN §4).
public struct DataKeys: Sendable {
    public var epoch: UInt32
    /// HKDF(R, "data", epoch): wraps version keys, seals shards.
    public var data: DataKey
    /// HKDF(R, "cipher", epoch): encryption as a service.
    public var cipher: SymmetricKey
    /// R itself, for SPIKE Bootstrap's proof (it encrypts with R).
    public var root: SymmetricKey
    /// HKDF(R, "event auth", epoch): authenticates the data events (`EventKind.authenticated`).
    public var eventAuthentication: SymmetricKey
    /// HKDF(R, "snapshot", epoch): seals snapshots of the data projection (`ProjectionSnapshot`).
    public var snapshot: SymmetricKey

    /// The cipher keys of earlier epochs of this chain of rotations, newest first: ciphertexts
    /// made before a rotation still decrypt.
    public var previousCiphers: [SymmetricKey]

    public init(rootKey: RootKey, epoch: UInt32, previous: PreviousKeys = PreviousKeys()) {
        self.epoch = epoch
        previousCiphers = previous.keys.sorted { $0.key > $1.key }.map { SymmetricKey(data: $0.value.cipher) }
        data = rootKey.dataKey(epoch: epoch)
        cipher = rootKey.cipherKey(epoch: epoch)
        var bytes = rootKey.copyBytes()
        defer { _ = bytes.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        root = SymmetricKey(data: bytes)
        eventAuthentication = rootKey.eventAuthenticationKey(epoch: epoch)
        snapshot = rootKey.snapshotKey(epoch: epoch)
    }
}
