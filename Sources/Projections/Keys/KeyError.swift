import SecretSharing

/// Why key material was refused. Messages never include key bytes.
public enum KeyError: Error, Equatable, Sendable, CustomStringConvertible {
    case wrongRootKeyLength(Int)
    case zeroRootKey
    /// The reconstructed key does not match the genesis' key check value.
    case keyCheckFailed
    /// The password does not open the wrapped root key.
    case wrongPassword
    case weakPassword(String)
    case invalidScryptParameters(String)
    /// Sealed key material (a shard, a wrapped key) failed authentication.
    case sealedDataUnreadable(String)
    case shamir(ShamirError)

    public var description: String {
        switch self {
        case .wrongRootKeyLength(let length): return "a root key has 32 bytes, this one has \(length)"
        case .zeroRootKey: return "an all-zero root key is refused (it is what \"no key\" looks like)"
        case .keyCheckFailed:
            return "the reconstructed root key does not match the key check value of the genesis: the shares "
                + "are not from this system's root key; it was not used"
        case .wrongPassword: return "the password does not open the wrapped root key"
        case .weakPassword(let why): return "the admin password is refused: \(why)"
        case .invalidScryptParameters(let why): return "invalid scrypt parameters: \(why)"
        case .sealedDataUnreadable(let what): return "\(what) fails authentication: it was altered or sealed under another key"
        case .shamir(let error): return "\(error)"
        }
    }
}
