import EventLog
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// One PostgreSQL connection used from blocking code: the log's writer thread, reader workers,
/// tools. Queries go through postgres-nio's future API and are waited for, which needs no
/// cooperative thread (the future completes on NIO's event loop) and so cannot deadlock the
/// pool; waiting on an event loop is refused as a programming error. A connection found closed
/// is dropped, and the next query connects again: the store comes back with the server.
final class PostgresSession: Sendable {
    let url: PostgresURL
    /// Server settings for this session's connections (`lock_timeout` for the turns' lock).
    private let settings: [(String, String)]
    private let connection = Mutex<PostgresConnection?>(nil)
    private let nextID = Atomic<Int>(1)
    private static let logger = Logger(label: "spike.postgres")

    init(url: PostgresURL, settings: [(String, String)] = []) {
        self.url = url
        self.settings = settings
    }

    /// A session dropped without `close` (a store whose open failed half way) still closes its
    /// connection, without waiting: a deinit may run anywhere.
    deinit {
        if let connection = connection.withLock({ $0 }), !connection.isClosed { let _: EventLoopFuture<Void> = connection.close() }
    }

    /// Runs `query` and collects its rows.
    @discardableResult
    func query(_ query: PostgresQuery) throws(LogError) -> PostgresQueryResult {
        let connection = try connected()
        do {
            return try connection.query(query, logger: Self.logger).wait()
        } catch {
            throw failure(error, dropping: connection)
        }
    }

    /// `query` awaited by a task, no thread waiting for it: for a wait whose length another
    /// process decides (a lock another replica holds).
    @discardableResult
    func waitingQuery(_ query: PostgresQuery) async throws(LogError) -> PostgresQueryResult {
        let connection = try connected()
        do {
            return try await connection.query(query, logger: Self.logger).get()
        } catch {
            throw failure(error, dropping: connection)
        }
    }

    /// Runs `body` in one transaction on this session's connection: BEGIN, then COMMIT when it
    /// returns, ROLLBACK when it throws. Only one caller at a time may use a session this way
    /// (the log's writer thread owns its session). A connection that turns out to be gone before
    /// COMMIT was sent (the server restarted since the last use) is replaced and the
    /// transaction run again once: nothing of the first try can have been committed.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        var retried = false
        while true {
            var committing = false
            do {
                try query("BEGIN")
                let result: T
                do {
                    result = try body()
                } catch {
                    _ = try? query("ROLLBACK")
                    throw error
                }
                committing = true
                try query("COMMIT")
                return result
            } catch LogError.storeUnavailable where !committing && !retried {
                retried = true
            }
        }
    }

    /// A connection for `LISTEN`: notifications arrive on it until it closes.
    func listen(channel: String, _ handler: @escaping @Sendable () -> Void) throws(LogError) -> PostgresConnection {
        let connection = try connected()
        connection.addListener(channel: channel) { _, _ in handler() }
        try query("LISTEN \(unescaped: channel)")
        return connection
    }

    func close() {
        let connection = self.connection.withLock { current in
            defer { current = nil }
            return current
        }
        try? connection?.close().wait()
    }

    private func connected() throws(LogError) -> PostgresConnection {
        guard MultiThreadedEventLoopGroup.currentEventLoop == nil else {
            preconditionFailure("a blocking PostgreSQL call on an event loop: run it on the log's threads or in a task")
        }
        if let existing = connection.withLock({ $0 }), !existing.isClosed { return existing }
        var configuration: PostgresConnection.Configuration
        do { configuration = try url.configuration() } catch { throw .storeUnavailable(place: url.place, reason: "\(error)") }
        configuration.options.additionalStartupParameters += settings
        let fresh: PostgresConnection
        do {
            fresh = try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                id: nextID.wrappingAdd(1, ordering: .relaxed).oldValue, logger: Self.logger
            ).wait()
        } catch {
            throw .storeUnavailable(place: url.place, reason: Self.reason(error))
        }
        connection.withLock { $0 = fresh }
        return fresh
    }

    /// A query's failure as the log reports it: server errors with their SQLSTATE and message,
    /// a lost connection as the store unavailable (and the connection dropped).
    private func failure(_ error: any Error, dropping used: PostgresConnection) -> LogError {
        if let error = error as? PSQLError, error.code == .server, let state = error.serverInfo?[.sqlState] {
            if state == "23505" { return .storeConflict(reason: Self.reason(error)) }
            // 08xxx connection exceptions, 57P01..57P03 shutdown: the server went away.
            if !state.hasPrefix("08") && !state.hasPrefix("57P") { return .storeRefused(place: url.place, reason: Self.reason(error)) }
        }
        connection.withLock { if $0 === used { $0 = nil } }
        try? used.close().wait()
        return .storeUnavailable(place: url.place, reason: Self.reason(error))
    }

    /// What went wrong, from postgres-nio's error: the server's SQLSTATE and message, or the
    /// kind of client-side failure. Never the configuration (it holds the password).
    static func reason(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(type(of: error))" }
        if let info = error.serverInfo, let message = info[.message] {
            return "\(message) (SQLSTATE \(info[.sqlState] ?? "?"))"
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}
