/// The random 16-byte identity of a log, fixed when the log is created and stored in `meta`.
public struct LogID: Hashable, Sendable, CustomStringConvertible {
    public static let size = 16
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.size else { return nil }
        self.bytes = bytes
    }

    package static func random() -> LogID {
        var generator = SystemRandomNumberGenerator()
        return LogID(bytes: (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) })!
    }

    public var description: String { bytes.hexString }
}
