import CLMDB
import Foundation

/// One LMDB environment (a directory holding `data.mdb` and `lock.mdb`) with the named databases
/// of the log: `events`, `meta`, `snapshots` and `keys` (the key table, `KeyTable`).
///
/// Read transactions may run on any thread (`MDB_NOTLS`) and never block the writer. The map is
/// grown in place when a write finds it full; growing needs every transaction of this process to
/// be closed, so read transactions hold a shared lock and growth takes it exclusively.
final class LMDBEnvironment: @unchecked Sendable {
    let handle: OpaquePointer
    let events: MDB_dbi
    let meta: MDB_dbi
    let snapshots: MDB_dbi
    /// Nil only for a read-only open of a log written before the key table existed.
    let keys: MDB_dbi?
    let path: String
    let readOnly: Bool
    private let resizeLock: UnsafeMutablePointer<pthread_rwlock_t>

    init(directory: String, mapSize: Int, readOnly: Bool) throws {
        var env: OpaquePointer?
        try LMDBError.check(mdb_env_create(&env), "env_create")
        guard let env else { throw LMDBError(code: ENOMEM, operation: "env_create") }
        self.handle = env
        self.path = directory
        self.readOnly = readOnly
        self.resizeLock = .allocate(capacity: 1)
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        // Writer preference: a pending map growth must not starve behind a stream of readers.
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(resizeLock, &attributes)
        pthread_rwlockattr_destroy(&attributes)

        var dbis: [MDB_dbi] = []
        do {
            try LMDBError.check(mdb_env_set_maxdbs(env, 8), "env_set_maxdbs")
            try LMDBError.check(mdb_env_set_mapsize(env, mapSize), "env_set_mapsize")
            var flags = UInt32(MDB_NOTLS)
            if readOnly { flags |= UInt32(MDB_RDONLY) }
            try LMDBError.check(mdb_env_open(env, directory, flags, 0o600), "env_open \(directory)")
            var txn: OpaquePointer?
            try LMDBError.check(mdb_txn_begin(env, nil, readOnly ? UInt32(MDB_RDONLY) : 0, &txn), "txn_begin")
            for name in ["events", "meta", "snapshots", "keys"] {
                var dbi: MDB_dbi = 0
                let rc = mdb_dbi_open(txn, name, readOnly ? 0 : UInt32(MDB_CREATE), &dbi)
                if rc == MDB_NOTFOUND && readOnly && name == "keys" {
                    break
                }
                if rc != MDB_SUCCESS {
                    mdb_txn_abort(txn)
                    throw LMDBError(code: rc, operation: "dbi_open \(name)")
                }
                dbis.append(dbi)
            }
            try LMDBError.check(mdb_txn_commit(txn), "txn_commit")
        } catch {
            mdb_env_close(env)
            pthread_rwlock_destroy(resizeLock)
            resizeLock.deallocate()
            throw error
        }
        self.events = dbis[0]
        self.meta = dbis[1]
        self.snapshots = dbis[2]
        self.keys = dbis.count > 3 ? dbis[3] : nil
    }

    deinit {
        mdb_env_close(handle)
        pthread_rwlock_destroy(resizeLock)
        resizeLock.deallocate()
    }

    var mapSize: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_mapsize
    }

    /// Runs `body` in a read-only transaction (a consistent snapshot) and closes it afterwards.
    func read<T>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        pthread_rwlock_rdlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        let txn = try begin(flags: UInt32(MDB_RDONLY))
        defer { mdb_txn_abort(txn) }
        return try body(LMDBTransaction(handle: txn, environment: self))
    }

    /// Runs `body` in a write transaction and commits it (durably: one fsync of data and meta).
    /// When the map is full, the transaction is aborted, the map doubled and `body` run again
    /// from the start: `body` must compute everything it writes inside the transaction.
    /// Must be called from one thread at a time (the log's writer thread).
    func write<T>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        precondition(!readOnly, "write transaction on a read-only environment")
        while true {
            let result: T
            pthread_rwlock_rdlock(resizeLock)
            do {
                let txn = try begin(flags: 0)
                do {
                    result = try body(LMDBTransaction(handle: txn, environment: self))
                } catch {
                    mdb_txn_abort(txn)
                    throw error
                }
                try LMDBError.check(mdb_txn_commit(txn), "txn_commit")
                pthread_rwlock_unlock(resizeLock)
                return result
            } catch let error as LMDBError where error.isMapFull {
                pthread_rwlock_unlock(resizeLock)
                try grow()
            } catch {
                pthread_rwlock_unlock(resizeLock)
                throw error
            }
        }
    }

    /// Doubles the map. Waits until no transaction of this process is open.
    func grow() throws {
        pthread_rwlock_wrlock(resizeLock)
        defer { pthread_rwlock_unlock(resizeLock) }
        let newSize = mapSize * 2
        try LMDBError.check(mdb_env_set_mapsize(handle, newSize), "env_set_mapsize \(newSize)")
    }

    /// Copies a consistent, compacted snapshot of the environment into `directory`, which must
    /// exist and be empty. Writers continue meanwhile.
    func copy(to directory: String) throws {
        try LMDBError.check(mdb_env_copy2(handle, directory, UInt32(MDB_CP_COMPACT)), "env_copy2 \(directory)")
    }

    private func begin(flags: UInt32) throws -> OpaquePointer {
        while true {
            var txn: OpaquePointer?
            let rc = mdb_txn_begin(handle, nil, flags, &txn)
            if rc == MDB_MAP_RESIZED {
                // Another process grew the map. Adopting its size needs every transaction of
                // this process closed: trade the caller's shared lock for the exclusive one.
                pthread_rwlock_unlock(resizeLock)
                pthread_rwlock_wrlock(resizeLock)
                let adopted = mdb_env_set_mapsize(handle, 0)
                pthread_rwlock_unlock(resizeLock)
                pthread_rwlock_rdlock(resizeLock)
                try LMDBError.check(adopted, "env_set_mapsize 0")
                continue
            }
            try LMDBError.check(rc, "txn_begin")
            return txn!
        }
    }
}

extension LMDBEnvironment {
    /// Drops this process's page-table entries for the memory map of `data.mdb`. The pages stay
    /// in the page cache and fault back in on the next access, so this is safe at any time (the
    /// map is read-only: writes go through `pwrite`); a long replay calls it to keep its resident
    /// size bounded instead of growing with the log. LMDB does not expose the map's address
    /// (`me_mapaddr` is set only with `MDB_FIXEDMAP`), so it is looked up in /proc/self/maps.
    func releaseMappedPages() {
        let file = URL(fileURLWithPath: path).appendingPathComponent("data.mdb").resolvingSymlinksInPath().path
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return }
        for line in maps.split(separator: "\n") where line.hasSuffix(" " + file) {
            let bounds = line.prefix { $0 != " " }.split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
                  let address = UnsafeMutableRawPointer(bitPattern: start) else { continue }
            // Locked pages (a Nexus locks its memory) cannot be dropped: they are unlocked first.
            // They hold records as stored (encrypted), nothing the lock protects.
            munlock(address, Int(end - start))
            madvise(address, Int(end - start), MADV_DONTNEED)
        }
    }
}
