#include "CRE2.h"

#include <re2/re2.h>

#include <cstring>
#include <new>

struct spike_re2 {
    re2::RE2 regex;
    spike_re2(re2::StringPiece pattern, const re2::RE2::Options &options) : regex(pattern, options) {}
};

extern "C" spike_re2 *spike_re2_compile(const char *pattern, size_t length, char *error, size_t error_capacity) {
    re2::RE2::Options options;
    // The reason goes back to the caller, which words the refusal; nothing on stderr.
    options.set_log_errors(false);
    auto *compiled = new (std::nothrow) spike_re2(re2::StringPiece(pattern, length), options);
    if (compiled == nullptr) {
        if (error_capacity > 0) std::strncpy(error, "out of memory", error_capacity - 1), error[error_capacity - 1] = 0;
        return nullptr;
    }
    if (!compiled->regex.ok()) {
        if (error_capacity > 0) {
            std::strncpy(error, compiled->regex.error().c_str(), error_capacity - 1);
            error[error_capacity - 1] = 0;
        }
        delete compiled;
        return nullptr;
    }
    return compiled;
}

extern "C" int spike_re2_partial_match(const spike_re2 *regex, const char *text, size_t length) {
    return re2::RE2::PartialMatch(re2::StringPiece(text, length), regex->regex) ? 1 : 0;
}

extern "C" int spike_re2_full_match(const spike_re2 *regex, const char *text, size_t length) {
    return re2::RE2::FullMatch(re2::StringPiece(text, length), regex->regex) ? 1 : 0;
}

extern "C" void spike_re2_free(spike_re2 *regex) { delete regex; }
