import CRE2

/// A compiled policy pattern with SPIKE's semantics: a regular expression in Go's (RE2) syntax,
/// matched **unanchored** (a substring search, as Go's `MatchString`; ADR-0025 — write `^…$` to
/// anchor).
///
/// RE2 (Debian's libre2, through the `CRE2` shim) runs it: what it refuses — lookaround, back
/// references, atomic groups, possessive quantifiers — Go refuses too, so a pattern accepted here
/// means what it means to SPIKE; and a match takes time linear in the text whatever the pattern,
/// so no policy can make the Nexus spin on a crafted SPIFFE ID or path (ADR-0011).
public final class PolicyPattern: Sendable, CustomStringConvertible {
    public let source: String
    /// RE2 objects are immutable once compiled and safe to match from many threads at once.
    private nonisolated(unsafe) let regex: OpaquePointer

    public init(_ source: String) throws(PolicyError) {
        var reason = [CChar](repeating: 0, count: 256)
        let compiled = Self.withUTF8(source) { spike_re2_compile($0.baseAddress, $0.count, &reason, reason.count) }
        guard let compiled else {
            let why = String(decoding: reason.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .invalidPattern(source, "it is not RE2 syntax (\(why))")
        }
        regex = compiled
        self.source = source
    }

    deinit { spike_re2_free(regex) }

    /// Unanchored: true when the pattern matches anywhere in `text`.
    public func matches(_ text: String) -> Bool {
        Self.withUTF8(text) { spike_re2_partial_match(regex, $0.baseAddress, $0.count) == 1 }
    }

    /// Whether the pattern matches the whole of `text` (as `^(?:p)$` would).
    public func matchesWhole(_ text: String) -> Bool {
        Self.withUTF8(text) { spike_re2_full_match(regex, $0.baseAddress, $0.count) == 1 }
    }

    /// Whether `source`, forced to match a whole string, matches `text`; false when it does not
    /// compile.
    public static func fullyMatches(_ source: String, _ text: String) -> Bool {
        (try? PolicyPattern(source))?.matchesWhole(text) ?? false
    }

    public var description: String { source }

    private static func withUTF8<T>(_ text: String, _ body: (UnsafeBufferPointer<CChar>) -> T) -> T {
        var text = text
        return text.withUTF8 { bytes in bytes.withMemoryRebound(to: CChar.self, body) }
    }
}

/// Why a policy or pattern was refused.
public enum PolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidPattern(String, String)
    /// The policy would reach a reserved `spike/system/…` path without the precision ADR-0033
    /// requires.
    case reservedPathOverreach(pattern: String, reserved: String)

    public var description: String {
        switch self {
        case .invalidPattern(let pattern, let why): "the pattern \(pattern) is refused: \(why)"
        case .reservedPathOverreach(let pattern, let reserved):
            "the path pattern \(pattern) reaches the reserved path \(reserved): write it to describe that path exactly "
                + "(e.g. ^\(reserved)$) and anchor the SPIFFE ID pattern with ^…$"
        }
    }
}
