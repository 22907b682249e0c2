import CLibCrypto
import Crypto
import Synchronization

/// An epoch's data key, HKDF(R, "data", epoch) (DESIGN §4): it seals the shards, and wraps a
/// version key on every secret write and unwraps one on every read (`VersionSeal`). For those,
/// its AES-256-GCM key schedule is kept in libcrypto contexts, so that a box costs its nonce and
/// its bytes, not a key expansion and a context (as the log's records do, ADR-0002; a secret read
/// spent a tenth of its CPU on its two boxes). A context serves one box at a time; idle ones wait
/// in a small pool, and all of them are freed, which cleanses them, when the key is released:
/// the schedule is the key in another form and lives exactly as long as it does.
public final class DataKey: Sendable {
    public let symmetricKey: SymmetricKey
    private let idle = Mutex<[Context]>([])

    /// A keyed context, used by one thread at a time: the pool hands it out and takes it back.
    private struct Context: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// More idle contexts than threads that open boxes at once are freed, not kept.
    private static let maxIdle = 16

    public init(_ key: SymmetricKey) {
        precondition(key.bitCount == AESGCMBox.keySize * 8, "a data key is 256 bits")
        symmetricKey = key
    }

    deinit {
        idle.withLock { $0.forEach { EVP_CIPHER_CTX_free($0.pointer) } }
    }

    /// Runs `body` with a context keyed with this key (one of the pool's, or a new one); nil
    /// when libcrypto cannot make one (out of memory), as when `body` fails.
    func withContext<T>(_ body: (AESGCMBox.Key) -> T?) -> T? {
        guard let context = idle.withLock({ $0.popLast() }) ?? newContext() else { return nil }
        defer {
            let kept = idle.withLock { idle in
                guard idle.count < Self.maxIdle else { return false }
                idle.append(context)
                return true
            }
            if !kept { EVP_CIPHER_CTX_free(context.pointer) }
        }
        return body(.keyed(context.pointer))
    }

    private func newContext() -> Context? {
        guard let context = EVP_CIPHER_CTX_new() else { return nil }
        let keyed = symmetricKey.withUnsafeBytes {
            EVP_CipherInit_ex2(context, AESGCMBox.cipher, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), nil, 1, nil) == 1
        }
        guard keyed else {
            EVP_CIPHER_CTX_free(context)
            return nil
        }
        return Context(pointer: context)
    }
}
