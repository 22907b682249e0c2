import CLMDB
import Foundation

/// A non-zero return code from an LMDB call, with the call that returned it.
public struct LMDBError: Error, Equatable, CustomStringConvertible {
    public let code: Int32
    public let operation: String

    public var description: String {
        "LMDB \(operation) failed: \(String(cString: mdb_strerror(code))) (code \(code))"
    }

    var isMapFull: Bool { code == MDB_MAP_FULL }
    /// The volume (or a map that cannot grow) has no room for the transaction.
    public var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT || isMapFull }
    var isNotFound: Bool { code == MDB_NOTFOUND }

    @inline(__always)
    static func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws {
        if rc != MDB_SUCCESS { throw LMDBError(code: rc, operation: operation()) }
    }
}
