import Foundation
import NIOSSL
import PostgresNIO

/// Where the event log's PostgreSQL is and how to reach it, parsed once from a libpq-style URL:
/// `postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=MODE&sslrootcert=FILE`, or a Unix socket
/// with `?host=/socket/directory`. The password is kept for the connection only: `description`,
/// errors and logs name user, host, port and database, never it.
public struct PostgresURL: Sendable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file (`DIRECTORY/.s.PGSQL.PORT`, as libpq names it).
        case unixSocket(path: String)
    }

    /// libpq's `sslmode`: what TLS to the server the URL asks for.
    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public let endpoint: Endpoint
    public let username: String
    public private(set) var database: String
    public let tlsMode: TLSMode
    /// PEM file of the CAs trusted for the server's certificate (`sslrootcert`).
    public let rootCertificateFile: String?
    private var password: String?

    /// Parses `text`; a URL without a password takes `PGPASSWORD` from `environment`, as libpq does.
    public init(_ text: String, environment: [String: String] = [:]) throws(PostgresURLError) {
        guard let components = URLComponents(string: text) else { throw .malformed("it does not parse as a URL") }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw .malformed("the scheme must be postgres:// or postgresql://")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard let value = item.value else { throw .malformed("the parameter '\(item.name)' has no value") }
            query[item.name] = value
        }
        let known: Set = ["sslmode", "sslrootcert", "host", "port", "user", "dbname", "application_name", "connect_timeout"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw .malformed("the parameter '\(unknown)' is not supported (known: \(known.sorted().joined(separator: ", ")))")
        }
        let port: Int
        if let text = query["port"] {
            guard let value = Int(text), (1...65535).contains(value) else { throw .malformed("the port is not a number in 1…65535") }
            port = value
        } else {
            port = components.port ?? 5432
        }
        let host = query["host"] ?? components.host.flatMap { $0.isEmpty ? nil : $0.removingPercentEncoding }
        if let host, host.hasPrefix("/") {
            endpoint = .unixSocket(path: (host as NSString).appendingPathComponent(".s.PGSQL.\(port)"))
        } else {
            guard let host else { throw .malformed("it names no host (postgres://HOST/DATABASE, or ?host=/socket/directory)") }
            endpoint = .tcp(host: host, port: port)
        }
        username = query["user"] ?? components.user?.removingPercentEncoding ?? "postgres"
        password = components.password?.removingPercentEncoding ?? environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let name = query["dbname"] ?? path.removingPercentEncoding ?? path
        guard !name.isEmpty, !name.contains("/") else { throw .malformed("it names no database (postgres://HOST/DATABASE)") }
        database = name
        if let mode = query["sslmode"] {
            guard let parsed = TLSMode(rawValue: mode) else {
                throw .malformed("sslmode '\(mode)' is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            tlsMode = parsed
        } else {
            // libpq's default; a Unix socket has no TLS.
            if case .unixSocket = endpoint { tlsMode = .disable } else { tlsMode = .prefer }
        }
        rootCertificateFile = query["sslrootcert"]
        if case .unixSocket = endpoint, tlsMode != .disable, tlsMode != .prefer {
            throw .malformed("sslmode \(tlsMode.rawValue) needs a TCP host: a Unix socket has no TLS")
        }
    }

    /// A URL given as a command-line argument, which every user of the machine can read in the
    /// process list: it may not hold a password; the password comes from `PGPASSWORD`, as with
    /// libpq's tools.
    public static func fromArgument(_ text: String, environment: [String: String]) throws(PostgresURLError) -> PostgresURL {
        guard try PostgresURL(text).password == nil else { throw .passwordInArgument }
        return try PostgresURL(text, environment: environment)
    }

    /// The same server and credentials, another database.
    public func with(database: String) throws(PostgresURLError) -> PostgresURL {
        guard !database.isEmpty, !database.contains("/") else { throw .malformed("it names no database") }
        var copy = self
        copy.database = database
        return copy
    }

    /// The URL without its password: what logs, errors and `/readyz` may show.
    public var description: String {
        var parameters: [String] = []
        let authority: String
        switch endpoint {
        case .tcp(let host, let port):
            authority = "\(host.contains(":") ? "[\(host)]" : host):\(port)"
            if tlsMode != .prefer { parameters.append("sslmode=\(tlsMode.rawValue)") }
        case .unixSocket(let path):
            authority = ""
            parameters.append("host=\((path as NSString).deletingLastPathComponent)")
            if let port = path.split(separator: ".").last, port != "5432" { parameters.append("port=\(port)") }
        }
        return "postgres://\(username)@\(authority)/\(database)" + (parameters.isEmpty ? "" : "?" + parameters.joined(separator: "&"))
    }

    /// Where, for error messages: host and port or socket, and database.
    public var place: String {
        switch endpoint {
        case .tcp(let host, let port): "PostgreSQL at \(host):\(port), database \(database)"
        case .unixSocket(let path): "PostgreSQL at \(path), database \(database)"
        }
    }

    /// postgres-nio's configuration for this URL (the benchmark's baseline connects with it too).
    package func configuration() throws(PostgresURLError) -> PostgresConnection.Configuration {
        switch endpoint {
        case .unixSocket(let path):
            return .init(unixSocketPath: path, username: username, password: password, database: database)
        case .tcp(let host, let port):
            return .init(host: host, port: port, username: username, password: password, database: database, tls: try tls())
        }
    }

    private func tls() throws(PostgresURLError) -> PostgresConnection.Configuration.TLS {
        guard tlsMode != .disable else { return .disable }
        var tls = TLSConfiguration.makeClientConfiguration()
        switch tlsMode {
        case .disable, .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let file = rootCertificateFile {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file))
            } catch {
                throw .malformed("sslrootcert \(file) holds no readable PEM certificate")
            }
        }
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: tls) } catch { throw .malformed("TLS cannot be set up: \(error)") }
        return tlsMode == .prefer ? .prefer(context) : .require(context)
    }
}

/// A `SPIKE_NEXUS_POSTGRES_URL` (or `--to`/`--from` URL) that cannot be used. Never quotes the
/// URL: it may hold a password.
public enum PostgresURLError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case passwordInArgument

    public var description: String {
        switch self {
        case .malformed(let why):
            return "the PostgreSQL URL is not usable: \(why); write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=require]"
        case .passwordInArgument:
            return "the PostgreSQL URL on the command line holds a password, which any user can read in the process list: "
                + "give the URL without it and the password in PGPASSWORD"
        }
    }
}
