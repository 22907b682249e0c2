import Projections

/// The policy pattern parser and matcher (RE2 through `CRE2`), and the put-time checks of a
/// policy built on it. The input is a pattern, then a 0 byte, then a text to match. What must
/// hold: no crash and no hang (libFuzzer's `-timeout` is the bound: matching is linear in the
/// text); the three ways of matching agree: a whole match is a match, and a whole match is what
/// the pattern anchored by hand (`^(?:p)$`) finds.
public struct PolicyPatternFuzzTarget: FuzzTarget {
    public static let name = "policy-pattern"

    public init() {}

    public func run(_ input: [UInt8]) throws(FuzzFinding) {
        let split = input.firstIndex(of: 0) ?? input.endIndex
        let source = String(decoding: input[..<split], as: UTF8.self)
        let text = split < input.endIndex ? String(decoding: input[(split + 1)...], as: UTF8.self) : "spike/system/acl"

        _ = try? Policy.check(spiffeidPattern: source, pathPattern: source)
        _ = ReservedPaths.isPreciseIdentity(source)
        guard let pattern = try? PolicyPattern(source) else { return }
        let partial = pattern.matches(text)
        let whole = pattern.matchesWhole(text)
        if whole && !partial { throw FuzzFinding(Self.name, "a whole-string match that is not a match") }
        // `\Q` quotes to the end of the pattern when no `\E` closes it, so `^(?:p)$` would quote
        // its own `)$` (the fuzzer's `\Q`, kept in the corpus): no hand-anchored form to compare.
        // Looked for in the scalars, not the characters: a combining mark after the `Q` makes
        // `Q߮` one character, and `String.contains` missed it (also a kept input).
        if zip(source.unicodeScalars, source.unicodeScalars.dropFirst()).contains(where: { $0 == "\\" && $1 == "Q" }) { return }
        guard let anchored = try? PolicyPattern("^(?:" + source + ")$") else {
            throw FuzzFinding(Self.name, "a pattern that compiles does not compile anchored")
        }
        if anchored.matches(text) != whole { throw FuzzFinding(Self.name, "the whole-string match disagrees with ^(?:p)$") }
    }

    public static func seeds() -> [[UInt8]] {
        ["^spiffe://spike\\.ist/workload/.*$\u{0}spiffe://spike.ist/workload/app",
         "^secrets/(db|cache)/[a-z]+$\u{0}secrets/db/main",
         "(a|aa)*c\u{0}" + String(repeating: "a", count: 200),
         "(?i)Spike/SYSTEM/acl\u{0}spike/system/acl",
         "[[:alpha:]]+\\pL\\x{1F600}\u{0}abc😀",
         ".*"].map { Array($0.utf8) }
    }
}
