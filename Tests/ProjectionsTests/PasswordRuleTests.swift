import Projections
import Testing

/// What a guess list tries first is refused before it can become a password wrap in the log.
@Suite struct PasswordRuleTests {
    @Test func shortRepetitiveWellKnownAndRunsAreRefusedWithTheReason() {
        for (password, reason) in [
            ("short", "it has 5 characters"), ("elevenchars", "it has 11 characters"),
            ("aaaaaaaaaaaaaaaa", "only 1 different characters"), ("abababababab", "only 2 different"), ("abcabcabcabcab", "only 3 different"),
            ("password1234", "well-known"), ("Password 2024!", "well-known"), ("correct horse battery staple", "well-known"),
            ("iloveyou2025", "well-known"), ("administrator", "well-known"),
            ("abcdefghijkl", "well-known"), ("123456789012", "well-known"), ("qwertyuiopas", "well-known"), ("lkjihgfedcba", "well-known"),
            ("1q2w3e4r5t6y", "well-known"),
        ] {
            let refusal = PasswordRule.refusal(of: password)
            #expect(refusal?.contains(reason) == true, "\(password): \(refusal ?? "accepted")")
            #expect(refusal?.contains(password) != true, "a refusal never repeats the password")
            #expect(refusal?.contains(PasswordRule.statement) == true)
        }
    }

    @Test func passphrasesAndRandomPasswordsAreAccepted() {
        for password in ["correct horse battery", "violet kettle on a tuesday", "alice's long password", "Tr0ub4dor&3xyz",
                         "Zm9vYmFyYmF6cXV4", "naïve café crème", "password is not my password"] {
            #expect(PasswordRule.refusal(of: password) == nil, "\(password)")
        }
    }
}
