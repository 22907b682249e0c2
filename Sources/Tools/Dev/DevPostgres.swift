import ChildProcesses
import Foundation
import PostgresEventStore

/// The private PostgreSQL server of a dev cluster started with `--store postgres` and no URL:
/// Debian's server with its data and its Unix socket in DIR/postgres, no TCP port, trust
/// authentication for the local user. initdb and postgres refuse to run as root, so as root
/// they run as the `postgres` user.
struct DevPostgres {
    let directory: String

    var dataDirectory: String { (directory as NSString).appendingPathComponent("data") }
    var logFile: String { (directory as NSString).appendingPathComponent("server.log") }
    private var asRoot: Bool { getuid() == 0 }
    private var user: String { asRoot ? "postgres" : NSUserName() }

    /// The URL of the cluster's database (`spike`).
    var url: PostgresURL {
        get throws { try PostgresURL("postgres:///spike?host=\(directory)&user=\(user)") }
    }

    /// The server's pid, when it runs.
    var runningPID: pid_t? {
        guard let text = try? String(contentsOfFile: (dataDirectory as NSString).appendingPathComponent("postmaster.pid"), encoding: .utf8),
              let first = text.split(separator: "\n").first, let pid = pid_t(first), kill(pid, 0) == 0 else { return nil }
        return pid
    }

    /// Creates the server once, starts it unless it runs, and creates the database `spike`.
    func start() throws -> PostgresURL {
        guard ((directory as NSString).appendingPathComponent(".s.PGSQL.5432")).utf8.count < 100 else {
            throw CommandFailure("\(directory) is too long a path for PostgreSQL's Unix socket; use a shorter --dir")
        }
        let bin = try Self.binDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if asRoot {
            // The server's user must reach its directory: the cluster's directory gets o+x (no listing).
            let parent = (directory as NSString).deletingLastPathComponent
            if let mode = (try? FileManager.default.attributesOfItem(atPath: parent))?[.posixPermissions] as? Int, mode & 0o001 == 0 {
                try FileManager.default.setAttributes([.posixPermissions: mode | 0o001], ofItemAtPath: parent)
            }
            // Its parents are not ours to open up: say which one keeps the server out.
            var ancestor = (parent as NSString).deletingLastPathComponent
            while ancestor != "/" && !ancestor.isEmpty {
                if let mode = (try? FileManager.default.attributesOfItem(atPath: ancestor))?[.posixPermissions] as? Int, mode & 0o001 == 0 {
                    throw CommandFailure("PostgreSQL runs as the postgres user, which cannot reach \(directory): \(ancestor) is mode "
                        + String(mode, radix: 8) + "; give it o+x (chmod o+x \(ancestor)) or choose a --dir others can reach")
                }
                ancestor = (ancestor as NSString).deletingLastPathComponent
            }
            try run("/bin/chown", ["postgres", directory], what: "chown")
        }
        if !FileManager.default.fileExists(atPath: (dataDirectory as NSString).appendingPathComponent("PG_VERSION")) {
            try run(bin + "/initdb", ["--pgdata=\(dataDirectory)", "--username=\(user)", "--auth=trust", "--encoding=UTF8", "--no-instructions"],
                    what: "initdb")
        }
        if runningPID == nil {
            try run(bin + "/pg_ctl", ["--pgdata=\(dataDirectory)", "--log=\(logFile)", "--wait", "--timeout=60",
                                      "-o", "-c listen_addresses='' -c unix_socket_directories='\(directory)'", "start"],
                    what: "pg_ctl start (its log: \(logFile))")
        }
        let server = try PostgresURL("postgres:///postgres?host=\(directory)&user=\(user)")
        return try PostgresAdmin.createDatabase("spike", at: server)
    }

    /// Stops the server (fast: open transactions are rolled back, committed ones are on disk).
    func stop() throws {
        guard runningPID != nil else { return }
        try run(try Self.binDirectory() + "/pg_ctl", ["--pgdata=\(dataDirectory)", "--mode=fast", "--wait", "stop"], what: "pg_ctl stop")
    }

    /// Runs a PostgreSQL command to its end, its output appended to DIR/postgres/commands.log
    /// (a file, not a pipe: the server pg_ctl starts would hold a pipe open for good). A
    /// `ChildProcess`: the server outlives the command and keeps what the command inherited.
    private func run(_ executable: String, _ arguments: [String], what: String) throws {
        let asPostgres = asRoot && executable != "/bin/chown"
        let argv = asPostgres ? ["/usr/sbin/runuser", "-u", "postgres", "--", executable] + arguments : [executable] + arguments
        let outputPath = (directory as NSString).appendingPathComponent("commands.log")
        let start = ((try? FileManager.default.attributesOfItem(atPath: outputPath))?[.size] as? Int) ?? 0
        let output = open(outputPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw CommandFailure("cannot write \(outputPath) for PostgreSQL's \(what): \(String(cString: strerror(errno)))") }
        defer { close(output) }
        let ended: ChildProcess.Termination
        do {
            ended = try ChildProcess(executable: argv[0], arguments: Array(argv.dropFirst()),
                                     standardOutput: .descriptor(output), standardError: .descriptor(output)).wait()
        } catch {
            throw CommandFailure("cannot run \(argv[0]) for PostgreSQL's \(what): \(error)")
        }
        guard ended == .exited(0) else {
            let text = (try? Data(contentsOf: URL(fileURLWithPath: outputPath)).dropFirst(start)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            throw CommandFailure("PostgreSQL's \(what) failed (status \(ended.status)): \(text.suffix(2000))")
        }
    }

    /// Debian's server binaries (not on PATH).
    static func binDirectory() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let version = versions.last(where: { FileManager.default.isExecutableFile(atPath: "\(root)/\($0)/bin/pg_ctl") }) else {
            throw CommandFailure("PostgreSQL's server is not installed: apt-get install postgresql (or give --postgres-url)")
        }
        return "\(root)/\(version)/bin"
    }
}
