import Foundation

/// SPIKE's input rules (reference §4.3, sdk `validation`), checked before anything is decided.
/// Lengths are in bytes, as Go's `len`.
public enum Validation {
    /// Policy names and the keys of a secret's values: `^[a-zA-Z0-9-_ ]+$`, 1…250.
    public static func isValidName(_ name: String) -> Bool {
        (1...250).contains(name.utf8.count) && name.utf8.allSatisfy { isAlphanumeric($0) || "-_ ".utf8.contains($0) }
    }

    /// Secret paths: `^[a-zA-Z0-9._\-/()?+*|[\]{}\\]+$`, 1…500.
    public static func isValidSecretPath(_ path: String) -> Bool {
        (1...500).contains(path.utf8.count) && path.utf8.allSatisfy { isAlphanumeric($0) || pathPunctuation.contains($0) }
    }

    /// Policy path patterns: the secret path alphabet plus `^` and `$`, 1…500.
    public static func isValidPathPattern(_ pattern: String) -> Bool {
        (1...500).contains(pattern.utf8.count)
            && pattern.utf8.allSatisfy { isAlphanumeric($0) || pathPunctuation.contains($0) || $0 == UInt8(ascii: "^") || $0 == UInt8(ascii: "$") }
    }

    /// SPIFFE ID patterns, as SPIKE's API checks them: the SDK's expression
    /// `^\^?spiffe://[\\a-zA-Z0-9.\-*()+?\[\]]+(/[\\/a-zA-Z0-9._\-*()+?\[\]]+)*\$?$`, checked by a
    /// linear scan (that expression backtracks exponentially on a backtracking engine). It
    /// refuses `.*` alone and alternation; an anchored catch-all is written `^spiffe://.+$`.
    public static func isValidSPIFFEIDPattern(_ pattern: String) -> Bool {
        var bytes = Substring(pattern).utf8[...]
        if bytes.first == UInt8(ascii: "^") { bytes = bytes.dropFirst() }
        guard bytes.starts(with: "spiffe://".utf8) else { return false }
        bytes = bytes.dropFirst(9)
        if bytes.last == UInt8(ascii: "$") { bytes = bytes.dropLast() }
        // One or more of the trust domain's alphabet, then nothing or `/` and one or more of the
        // path's alphabet (which has `/`, so several segments are one run).
        let domain = bytes.prefix { isAlphanumeric($0) || idDomainPunctuation.contains($0) }
        guard !domain.isEmpty else { return false }
        let rest = bytes.dropFirst(domain.count)
        return rest.isEmpty || (rest.first == UInt8(ascii: "/") && rest.count >= 2
            && rest.allSatisfy { isAlphanumeric($0) || idPathPunctuation.contains($0) })
    }

    /// A comma-separated permission list (the CLI's `--permissions`): trimmed, empties dropped,
    /// at least one, each known.
    public static func parsePermissions(_ text: String) throws(PermissionListError) -> [Permission] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else { throw .empty }
        return try names.map { name throws(PermissionListError) in
            guard let permission = Permission(rawValue: name) else { throw .invalid(name) }
            return permission
        }
    }

    private static let pathPunctuation = Set("._-/()?+*|[]{}\\".utf8)

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    private static let idDomainPunctuation = Set("\\.-*()+?[]".utf8)
    private static let idPathPunctuation = Set("\\/._-*()+?[]".utf8)
}

/// Why a permission list was refused (SPIKE's `access_invalid_permission`).
public enum PermissionListError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case invalid(String)

    public var description: String {
        switch self {
        case .empty: "no valid permissions given: use one or more of read, write, list, execute, super"
        case .invalid(let name): "invalid permission '\(name)': use read, write, list, execute or super"
        }
    }
}
