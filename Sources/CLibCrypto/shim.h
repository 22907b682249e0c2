// The record hashes go through SHA-256's low-level functions, deprecated in OpenSSL 3 but
// present in every 3.x: for the log's short inputs (a 296-byte record, a 64-byte link) the EVP
// interface's provider dispatch costs a quarter of the hashing (docs/adr/0002). Where a build
// of OpenSSL leaves them out, EVP is used instead.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>
#include <stddef.h>

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
