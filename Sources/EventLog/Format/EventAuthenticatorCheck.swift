import CLibCrypto
import Crypto

/// HMAC-SHA256 of `EventAuthenticator` digests under one key, through one reused OpenSSL HMAC
/// context: the writer's tags and the Nexus' checks of every data event when its root key comes
/// back (swift-crypto's HMAC allocates and sets up its hashers on every call: a third of a second
/// for 100,000 events, against a few tens of milliseconds here). Not shared between threads.
public final class EventAuthenticatorCheck {
    nonisolated(unsafe) private static let hmac = EVP_MAC_fetch(nil, "HMAC", nil)!
    private let context: OpaquePointer

    public init(key: SymmetricKey) {
        context = EVP_MAC_CTX_new(Self.hmac)!
        let ok = key.withUnsafeBytes { bytes in
            withUnsafeTemporaryAllocation(of: OSSL_PARAM.self, capacity: 2) { parameters in
                "SHA256".withCString { digest in
                    parameters[0] = OSSL_PARAM_construct_utf8_string(OpenSSLParameterName.macDigest, UnsafeMutablePointer(mutating: digest), 0)
                    parameters[1] = OSSL_PARAM_construct_end()
                    return EVP_MAC_init(context, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, parameters.baseAddress)
                }
            }
        }
        precondition(ok == 1, "EVP_MAC_init(HMAC-SHA256) failed")
    }

    deinit {
        // Frees the key schedule, cleansed.
        EVP_MAC_CTX_free(context)
    }

    /// HMAC-SHA256(key, digest): the tag a writer stores.
    func tag(for digest: Bytes32) -> Bytes32? {
        var mac = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var ok: Int32 = EVP_MAC_init(context, nil, 0, nil)  // the same key again
        withUnsafeBytes(of: digest) { digest in
            ok &= EVP_MAC_update(context, digest.baseAddress?.assumingMemoryBound(to: UInt8.self), 32)
        }
        var length = 0
        withUnsafeMutableBytes(of: &mac) { out in
            ok &= EVP_MAC_final(context, out.baseAddress?.assumingMemoryBound(to: UInt8.self), &length, 32)
        }
        guard ok == 1, length == 32 else { return nil }
        return withUnsafeBytes(of: mac) { Bytes32($0) }
    }

    /// Whether `authenticator.tag` is HMAC-SHA256(key, digest), compared in constant time.
    public func isValid(_ authenticator: EventAuthenticator) -> Bool {
        guard let computed = tag(for: authenticator.digest) else { return false }
        return withUnsafeBytes(of: computed) { computed in
            withUnsafeBytes(of: authenticator.tag) { expected in
                CRYPTO_memcmp(computed.baseAddress, expected.baseAddress, 32) == 0
            }
        }
    }
}
