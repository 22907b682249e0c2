import CLibCrypto
#if canImport(Glibc)
import Glibc
#endif

/// OpenSSL parameter names as C strings that live as long as the process. An `OSSL_PARAM` keeps
/// a pointer to its name, and a Swift `String` passed to `OSSL_PARAM_construct_*` becomes a
/// temporary C string freed when that call returns, so OpenSSL read a freed name when it used
/// the parameter (found by the fuzzer, under AddressSanitizer: docs/adr/0014).
enum OpenSSLParameterName {
    nonisolated(unsafe) static let macDigest: UnsafeMutablePointer<CChar> = strdup(OSSL_MAC_PARAM_DIGEST)!
}
