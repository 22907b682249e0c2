import EventLog
import Foundation
import PostgresNIO

/// Server-side chores around a store: a database for a log (`spike dev up`, the tests), and a
/// statement run as is (the tests, to damage a log as an attacker with the table owner's rights
/// would). Not part of the store's API.
package enum PostgresAdmin {
    /// Creates `database` on the server `url` reaches (through its own database) unless it
    /// exists; returns the URL of the new one.
    package static func createDatabase(_ database: String, at url: PostgresURL) throws -> PostgresURL {
        guard database.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw PostgresURLError.malformed("a database name of letters, digits and _ is needed")
        }
        let session = PostgresSession(url: url)
        defer { session.close() }
        let exists = try session.query("SELECT 1 FROM pg_database WHERE datname = \(database)")
        if exists.isEmpty { try session.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(database)\"")) }
        return try url.with(database: database)
    }

    /// Drops `database`, closing its other connections first.
    package static func dropDatabase(_ database: String, at url: PostgresURL) throws {
        let session = PostgresSession(url: url)
        defer { session.close() }
        try session.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \"\(database)\" WITH (FORCE)"))
    }

    /// Runs `sql` (one statement) in `url`'s database; returns the rows' first columns as text.
    @discardableResult
    package static func execute(_ sql: String, at url: PostgresURL) throws -> [String?] {
        let session = PostgresSession(url: url)
        defer { session.close() }
        return try session.query(PostgresQuery(unsafeSQL: sql)).map { row in
            try? row.makeRandomAccess()[0].decode(String?.self)
        }
    }
}
