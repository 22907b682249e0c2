/// Which admin passwords are refused. The password wraps in the log are the one thing a thief of
/// the data directory (or of a backup) can attack offline, one scrypt per guess (ADR-0012), so a
/// guess list must not reach them: a password needs 12 characters or more, at least 6 of them
/// different, and must not be a well-known password or a run of the keyboard or the alphabet.
/// One rule, checked by the CLI before sending, by the API, and by the wrap itself.
public enum PasswordRule {
    public static let minimumLength = 12
    public static let minimumDistinct = 6
    /// The rule in one sentence, for messages.
    public static let statement = "at least \(minimumLength) characters, at least \(minimumDistinct) of them different, "
        + "and not a well-known password or a run of the keyboard or the alphabet"

    /// Why `password` is refused, or nil when it is accepted. Never repeats the password.
    public static func refusal(of password: String) -> String? {
        let characters = Array(password)
        guard characters.count >= minimumLength else {
            return "it has \(characters.count) characters: it needs \(statement)"
        }
        let distinct = Set(characters).count
        guard distinct >= minimumDistinct else {
            return "it has only \(distinct) different characters: it needs \(statement)"
        }
        let folded = password.lowercased().filter { !$0.isWhitespace }
        // Digits and punctuation around a word do not hide it: "Password2024!" is "password".
        let word = String(folded.drop { !$0.isLetter }.reversed().drop { !$0.isLetter }.reversed())
        if wellKnown.contains(folded) || wellKnown.contains(word) || isRun(folded) {
            return "it is a well-known password: use \(statement)"
        }
        return nil
    }

    /// Consecutive characters of one keyboard row or of the alphabet/digits, forwards or back.
    private static func isRun(_ text: String) -> Bool {
        let sequences = ["abcdefghijklmnopqrstuvwxyz", "01234567890123456789", "qwertyuiopasdfghjklzxcvbnm", "qwertzuiopasdfghjklyxcvbnm",
                         "azertyuiopqsdfghjklmwxcvbn", "1q2w3e4r5t6y7u8i9o0p"]
        return sequences.contains { $0.contains(text) || String($0.reversed()).contains(text) }
    }

    /// The words most common passwords are made of in public breach lists, lower-cased without
    /// spaces (with digits and punctuation around them, they are refused too).
    private static let wellKnown: [String] = [
        "password", "passw0rd", "p@ssw0rd", "iloveyou", "changeme", "letmein", "welcome", "administrator", "admin", "secret",
        "qwerty", "trustno1", "football", "baseball", "sunshine", "princess", "superman", "monkey", "dragon", "master",
        "spike", "spiffe", "correcthorsebatterystaple",
    ]
}
