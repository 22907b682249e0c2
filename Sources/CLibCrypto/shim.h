// The record hashes go through SHA-256's low-level functions, deprecated in OpenSSL 3 but
// present in every 3.x: for the log's short inputs (a 296-byte record, a 64-byte link) the EVP
// interface's provider dispatch costs a quarter of the hashing (docs/adr/0002). Where a build
// of OpenSSL leaves them out, EVP is used instead.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>

/// SHA-256 of `first` then `second`, into `out` (32 bytes). Returns 1, or 0 on failure. For
/// inputs that are not secret (stored records, links): the context is not wiped.
static inline int spike_sha256_two_parts(const void *first, size_t first_count, const void *second, size_t second_count,
                                         unsigned char *out) {
#ifndef OPENSSL_NO_DEPRECATED_3_0
    SHA256_CTX context;
    int ok = SHA256_Init(&context);
    ok &= SHA256_Update(&context, first, first_count);
    ok &= SHA256_Update(&context, second, second_count);
    ok &= SHA256_Final(out, &context);
    return ok;
#else
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    unsigned int size = 0;
    int ok = context != NULL && EVP_DigestInit_ex2(context, EVP_sha256(), NULL) && EVP_DigestUpdate(context, first, first_count)
        && EVP_DigestUpdate(context, second, second_count) && EVP_DigestFinal_ex(context, out, &size);
    EVP_MD_CTX_free(context);
    return ok;
#endif
}

/// Gets (`set` = 0) or sets (`set` = 1) the 16-byte GCM tag of `context` through an OSSL_PARAM:
/// cheaper per call than EVP_CIPHER_CTX_ctrl, which translates to the same parameter each time.
static inline int spike_gcm_tag(EVP_CIPHER_CTX *context, unsigned char *tag, int set) {
    OSSL_PARAM parameters[2] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, 16), OSSL_PARAM_construct_end()};
    return set ? EVP_CIPHER_CTX_set_params(context, parameters) : EVP_CIPHER_CTX_get_params(context, parameters);
}

/// One AES-256-GCM seal (`encrypt` = 1: `tag` written) or open (`encrypt` = 0: `tag` checked)
/// of `count` bytes from `input` to `output` with a 12-byte `nonce`, `aad` authenticated, on
/// `context`: keyed here with a 32-byte `key` for `cipher` (the fetched AES-256-GCM), or, with
/// both NULL, holding a key's schedule already, so that only the nonce is set and a key that
/// seals or opens many boxes is expanded once (docs/adr/0002). Returns 1, or 0 on failure (for an
/// open: it does not authenticate; `output` then holds unauthenticated bytes the caller must
/// wipe). The context can take the next box either way.
static inline int spike_gcm_box(EVP_CIPHER_CTX *context, const EVP_CIPHER *cipher, const unsigned char *key, int encrypt,
                                const unsigned char *nonce, const unsigned char *aad, size_t aad_count,
                                const unsigned char *input, size_t count, unsigned char *output, unsigned char *tag) {
    if (aad_count > INT32_MAX || count > INT32_MAX) return 0;
    int length = 0, final_length = 0;
    return EVP_CipherInit_ex2(context, cipher, key, nonce, encrypt, NULL)
        && EVP_CipherUpdate(context, NULL, &length, aad, (int)aad_count)
        && (count == 0 || EVP_CipherUpdate(context, output, &length, input, (int)count))
        && (encrypt || spike_gcm_tag(context, tag, 1))
        && EVP_CipherFinal_ex(context, output + (count == 0 ? 0 : length), &final_length)
        && (!encrypt || spike_gcm_tag(context, tag, 0));
}

/// A box on a `context` keyed already.
static inline int spike_aes256gcm_keyed(EVP_CIPHER_CTX *context, int encrypt, const unsigned char *nonce,
                                        const unsigned char *aad, size_t aad_count, const unsigned char *input, size_t count,
                                        unsigned char *output, unsigned char *tag) {
    return spike_gcm_box(context, NULL, NULL, encrypt, nonce, aad, aad_count, input, count, output, tag);
}

/// A box under a `key` used for it alone, with a context of its own (freed, and so cleansed,
/// before returning).
static inline int spike_aes256gcm(const EVP_CIPHER *cipher, int encrypt, const unsigned char *key, const unsigned char *nonce,
                                  const unsigned char *aad, size_t aad_count, const unsigned char *input, size_t count,
                                  unsigned char *output, unsigned char *tag) {
    EVP_CIPHER_CTX *context = EVP_CIPHER_CTX_new();
    if (context == NULL) return 0;
    int ok = spike_gcm_box(context, cipher, key, encrypt, nonce, aad, aad_count, input, count, output, tag);
    EVP_CIPHER_CTX_free(context);
    return ok;
}
