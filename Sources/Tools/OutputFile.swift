import Foundation

/// Where a command writes: standard output, or a file that appears only when complete (written
/// under a temporary name in the same directory, created with its final mode — 0600 unless told
/// otherwise — never chmod-ed after a byte is in it, synced, then renamed), so that a failed or
/// interrupted write leaves nothing half-written behind and nobody else can open it meanwhile.
/// Buffered: one write(2) per megabyte. Every file the CLI writes goes through here.
final class OutputFile {
    private let descriptor: Int32
    private let path: String?
    private let temporary: String?
    private var buffer: [UInt8] = []
    private var committed = false
    /// Whether written bytes are zeroed in the buffer once out (keys, shares).
    private var wipes = false
    static let flushThreshold = 1 << 20

    /// Standard output.
    init() {
        descriptor = STDOUT_FILENO
        path = nil
        temporary = nil
        buffer.reserveCapacity(Self.flushThreshold + 65_536)
    }

    /// Writes `bytes` to a new file at `path` (replacing it, if it exists, once complete),
    /// created with `mode`; the copy in memory is zeroed afterwards.
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws {
        let file = try OutputFile(path: path, mode: mode)
        file.wipes = true
        try file.write(bytes)
        try file.commit()
    }

    /// A new file at `path` (replaced when complete, if it exists).
    init(path: String, mode: mode_t = 0o600) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = ((directory.isEmpty ? "." : directory) as NSString).appendingPathComponent(".\(name).partial-\(getpid())")
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw CommandFailure("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
        self.path = path
        self.temporary = temporary
        buffer.reserveCapacity(Self.flushThreshold + 65_536)
    }

    deinit {
        if let temporary, !committed {
            close(descriptor)
            unlink(temporary)
        }
    }

    func write(_ bytes: some Sequence<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    func write(_ text: String) throws { try write(text.utf8) }

    /// Writes a large chunk (an export's thousand lines) with write(2) from where it is, after
    /// what is buffered, instead of copying it into the buffer first.
    func write(chunk: [UInt8]) throws {
        guard !wipes, chunk.count >= Self.directWriteMinimum else { return try write(chunk) }
        try flush()
        try chunk.withUnsafeBytes { try writeAll($0) }
    }

    /// Smaller chunks are gathered in the buffer: one write(2) per megabyte.
    static let directWriteMinimum = 64 << 10

    /// Appends through `body` (no copy of an intermediate array).
    func append(_ body: (inout [UInt8]) -> Void) throws {
        body(&buffer)
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    func flush() throws {
        try buffer.withUnsafeBytes { try writeAll($0) }
        if wipes { _ = buffer.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw CommandFailure("cannot write \(path ?? "to standard output"): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    /// Flushes; a file is synced and renamed into place.
    func commit() throws {
        try flush()
        guard let path, let temporary else { return }
        guard fsync(descriptor) == 0 else { throw CommandFailure("cannot write \(path): \(String(cString: strerror(errno)))") }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            committed = true
            throw CommandFailure("cannot write \(path): \(reason)")
        }
        committed = true
    }
}
