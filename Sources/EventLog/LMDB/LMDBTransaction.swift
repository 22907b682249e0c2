import CLMDB

/// A borrowed LMDB transaction, valid only inside the closure that received it. Values returned
/// by `get` and the cursor point into the memory map and are valid only as long as the
/// transaction.
struct LMDBTransaction {
    let handle: OpaquePointer
    unowned let environment: LMDBEnvironment

    func get(_ dbi: MDB_dbi, key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(handle, dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc, "get")
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    func get(_ dbi: MDB_dbi, key: [UInt8]) throws -> UnsafeRawBufferPointer? {
        try key.withUnsafeBytes { buffer throws in try get(dbi, key: buffer) }
    }

    func put(_ dbi: MDB_dbi, key: [UInt8], value: UnsafeRawBufferPointer, append: Bool = false) throws {
        try key.withUnsafeBytes { (keyBuffer: UnsafeRawBufferPointer) throws in
            var k = MDB_val(mv_size: keyBuffer.count, mv_data: UnsafeMutableRawPointer(mutating: keyBuffer.baseAddress))
            var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
            try LMDBError.check(mdb_put(handle, dbi, &k, &v, append ? UInt32(MDB_APPEND) : 0), "put")
        }
    }

    func put(_ dbi: MDB_dbi, key: [UInt8], value: [UInt8], append: Bool = false) throws {
        try value.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) throws in
            try put(dbi, key: key, value: buffer, append: append)
        }
    }

    /// Deletes `key` from `dbi`; a missing key is not an error.
    func delete(_ dbi: MDB_dbi, key: [UInt8]) throws {
        try key.withUnsafeBytes { (keyBuffer: UnsafeRawBufferPointer) throws in
            var k = MDB_val(mv_size: keyBuffer.count, mv_data: UnsafeMutableRawPointer(mutating: keyBuffer.baseAddress))
            let rc = mdb_del(handle, dbi, &k, nil)
            if rc != MDB_NOTFOUND { try LMDBError.check(rc, "del") }
        }
    }

    /// Walks `dbi` in key order starting at the first key ≥ `start` (or the first key), calling
    /// `body` until it returns false.
    func forEach(
        _ dbi: MDB_dbi,
        from start: [UInt8]?,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(handle, dbi, &cursor), "cursor_open")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        var rc: Int32
        if let start {
            rc = start.withUnsafeBytes { buffer in
                k = MDB_val(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
                return mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
            }
        } else {
            rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
        }
        while rc == MDB_SUCCESS {
            let key = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
            let value = UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
            // A leaf page holds its nodes from its end downwards, so the next records lie just
            // below this value; asking for their cache lines now (640 bytes: the next two records
            // of a small event; more measured no faster) overlaps their fetch from memory with
            // this record's work (a replay's first touch of a record was its main stall). A
            // prefetch never faults, even below the map.
            spike_prefetch_before(v.mv_data, 640)
            if try !body(key, value) { return }
            rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { throw LMDBError(code: rc, operation: "cursor_get") }
    }

    /// The last entry of `dbi`, if any.
    func last(_ dbi: MDB_dbi) throws -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(handle, dbi, &cursor), "cursor_open")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        let rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
        if rc == MDB_NOTFOUND { return nil }
        try LMDBError.check(rc, "cursor_get last")
        return (UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size), UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// Number of entries in `dbi`.
    func count(_ dbi: MDB_dbi) throws -> Int {
        var stat = MDB_stat()
        try LMDBError.check(mdb_stat(handle, dbi, &stat), "stat")
        return stat.ms_entries
    }
}

extension LMDBTransaction {
    /// Reserves `count` bytes under the 8-byte big-endian key of `sequence` and returns them to be filled in place before the
    /// transaction ends (`MDB_RESERVE`): the record is built where it will be stored, no copy.
    func reserve(_ dbi: MDB_dbi, sequence: UInt64, count: Int, append: Bool) throws -> UnsafeMutableRawBufferPointer {
        try withUnsafeBytes(of: sequence.bigEndian) { keyBuffer in
            var k = MDB_val(mv_size: keyBuffer.count, mv_data: UnsafeMutableRawPointer(mutating: keyBuffer.baseAddress))
            var v = MDB_val(mv_size: count, mv_data: nil)
            let flags = UInt32(MDB_RESERVE) | (append ? UInt32(MDB_APPEND) : 0)
            try LMDBError.check(mdb_put(handle, dbi, &k, &v, flags), "put reserve")
            return UnsafeMutableRawBufferPointer(start: v.mv_data, count: count)
        }
    }
}
