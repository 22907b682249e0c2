import Foundation

/// How JSON bodies go on the wire, both ways: keys sorted, slashes as they are. The Nexus' answers
/// are written so, and `spike`'s requests, which the Nexus then reads without `JSONDecoder`
/// where it can (ADR-0020).
public enum WireJSON {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
