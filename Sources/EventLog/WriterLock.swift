#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Synchronization

/// One writer per log, across processes: an exclusive, non-blocking `flock` on `writer.lock` in
/// the log's directory, held from a writable open until `close`. The writer's optimistic head
/// check would catch a second writer at its first commit; the lock refuses it at open, with an
/// error that says who to stop, before it has written anything or waited for anything. The
/// kernel drops the lock when the process dies, so a crash never leaves the log locked.
final class WriterLock: Sendable {
    static let fileName = "writer.lock"
    private let descriptor = Mutex<Int32>(-1)

    init(directory: String) throws(LogError) {
        let path = directory + "/" + Self.fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw .storage(LMDBError(code: errno, operation: "open \(path)"))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            _ = close(fd)
            if reason == EWOULDBLOCK { throw .writerLocked(directory: directory) }
            throw .storage(LMDBError(code: reason, operation: "flock \(path)"))
        }
        descriptor.withLock { $0 = fd }
    }

    deinit { release() }

    func release() {
        descriptor.withLock { fd in
            guard fd >= 0 else { return }
            // Unlocked explicitly: a child being spawned (fork, then exec) holds a copy of the
            // descriptor until its exec closes it, and with it the lock; a close alone would leave
            // the log locked that long (seen: a test reopening its log while another spawned).
            _ = flock(fd, LOCK_UN)
            _ = close(fd)
            fd = -1
        }
    }
}
