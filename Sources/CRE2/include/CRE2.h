// A C face for Debian's RE2 (libre2-dev), the linear-time engine Go's regexp is modelled on:
// policy patterns are matched here so that no pattern can make a match take more than time
// linear in its input (docs/adr/0011-policy-patterns-on-re2.md).
#ifndef SPIKE_CRE2_H
#define SPIKE_CRE2_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spike_re2 spike_re2;

/// Compiles `pattern` (UTF-8, `length` bytes) with RE2's default (Perl-like, Go-compatible)
/// syntax. On failure returns NULL and writes RE2's reason, NUL-terminated and cut to fit, into
/// `error`.
spike_re2 *spike_re2_compile(const char *pattern, size_t length, char *error, size_t error_capacity);

/// 1 when the pattern matches anywhere in `text` (Go's `MatchString`), 0 otherwise.
int spike_re2_partial_match(const spike_re2 *regex, const char *text, size_t length);

/// 1 when the pattern matches the whole of `text`, 0 otherwise.
int spike_re2_full_match(const spike_re2 *regex, const char *text, size_t length);

void spike_re2_free(spike_re2 *regex);

#ifdef __cplusplus
}
#endif

#endif
