import Foundation

/// A compiled policy pattern with SPIKE's semantics: an RE2-style regular expression matched
/// **unanchored** (a substring search, as Go's `MatchString`; ADR-0025 — write `^…$` to anchor).
///
/// ICU (`NSRegularExpression`) runs it; constructs that RE2 does not have — lookaround, back
/// references, atomic groups, possessive quantifiers — are refused, so that a pattern accepted
/// here means what it means to SPIKE. ICU backtracks where RE2 runs in linear time, so a group
/// that repeats without bound and holds a repetition itself (`(a+)+`, `(a*b?)*`) is refused too:
/// on a crafted SPIFFE ID or path it could take exponential time.
public final class PolicyPattern: Sendable, CustomStringConvertible {
    public let source: String
    private let regex: NSRegularExpression

    public init(_ source: String) throws(PolicyError) {
        if let construct = Self.unsupportedConstruct(in: source) {
            throw .invalidPattern(source, "\(construct) is not RE2 syntax")
        }
        do {
            regex = try NSRegularExpression(pattern: source)
        } catch {
            throw .invalidPattern(source, "it does not compile")
        }
        self.source = source
    }

    /// Unanchored: true when the pattern matches anywhere in `text`.
    public func matches(_ text: String) -> Bool {
        let range = NSRange(text.startIndex..<text.endIndex, in: text)
        return regex.firstMatch(in: text, options: [], range: range) != nil
    }

    /// Whether the pattern, forced to match a whole string (`^(?:p)$`), matches `text`.
    public static func fullyMatches(_ source: String, _ text: String) -> Bool {
        (try? PolicyPattern("^(?:\(source))$"))?.matches(text) ?? false
    }

    public var description: String { source }

    /// The first construct RE2 would refuse, if any.
    static func unsupportedConstruct(in pattern: String) -> String? {
        let chars = Array(pattern)
        var index = 0
        var inClass = false
        // Per open group: whether it holds a repetition (directly or in a nested group).
        var groups: [Bool] = []
        while index < chars.count {
            let char = chars[index]
            let next: Character? = index + 1 < chars.count ? chars[index + 1] : nil
            if char == "\\" {
                if !inClass, let next, next.isNumber, next != "0" { return "a back reference (\\\(next))" }
                if !inClass, next == "k" { return "a named back reference (\\k)" }
                index += 2
                continue
            }
            if inClass {
                if char == "]" { inClass = false }
                index += 1
                continue
            }
            switch char {
            case "[":
                inClass = true
                // A `]` right after `[` or `[^` is a literal member.
                if next == "^" { index += 1 }
                if index + 1 < chars.count, chars[index + 1] == "]" { index += 1 }
            case "(" where next == "?":
                let rest = String(chars[(index + 2)...].prefix(2))
                if rest.hasPrefix("=") || rest.hasPrefix("!") { return "a lookahead (?\(rest.prefix(1))" }
                if rest == "<=" || rest == "<!" { return "a lookbehind (?\(rest)" }
                if rest.hasPrefix(">") { return "an atomic group (?>" }
                groups.append(false)
            case "(":
                groups.append(false)
            case ")":
                let repeats = groups.popLast() ?? false
                if repeats, next == "*" || next == "+" || next == "{" {
                    return "a repeated group that itself repeats (as (a+)+), which can take exponential time"
                }
                if repeats, !groups.isEmpty { groups[groups.count - 1] = true }
            case "*", "+", "?", "}":
                if next == "+" { return "a possessive quantifier (\(char)+)" }
                if char != "?", !groups.isEmpty { groups[groups.count - 1] = true }
            case "{":
                if !groups.isEmpty { groups[groups.count - 1] = true }
            default:
                break
            }
            index += 1
        }
        return nil
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
