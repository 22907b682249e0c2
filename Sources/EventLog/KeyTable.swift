/// One entry of the log's key table: a small value (typically a wrapped data key) under an id.
public struct KeyTableEntry: Sendable, Equatable {
    public var id: [UInt8]
    public var value: [UInt8]

    public init(id: [UInt8], value: [UInt8]) {
        self.id = id
        self.value = value
    }
}

/// Changes to the key table that ride along with an append, in its transaction.
///
/// The key table is the one mutable place of a log (LMDB database `keys`, docs/log-format.md):
/// events are never changed or deleted, so data that must be erasable for good (a destroyed
/// secret version) is sealed in its event under a key kept here, and erasing it deletes the key
/// (crypto-shredding). LMDB reuses the freed page in a later transaction, and a compacting backup
/// never copies it.
public struct KeyTableChanges: Sendable, Equatable {
    public var puts: [KeyTableEntry]
    public var deletes: [[UInt8]]

    public init(puts: [KeyTableEntry] = [], deletes: [[UInt8]] = []) {
        self.puts = puts
        self.deletes = deletes
    }

    public var isEmpty: Bool { puts.isEmpty && deletes.isEmpty }

    /// The largest id (LMDB's default key limit) and value accepted.
    public static let maxIDSize = 511
    public static let maxValueSize = 4096

    func validate() throws(LogError) {
        for id in puts.map(\.id) + deletes where id.isEmpty || id.count > Self.maxIDSize {
            throw .invalidKeyTableEntry("an id of \(id.count) bytes (1…\(Self.maxIDSize) allowed)")
        }
        for entry in puts where entry.value.count > Self.maxValueSize {
            throw .invalidKeyTableEntry("a value of \(entry.value.count) bytes (at most \(Self.maxValueSize))")
        }
    }
}
