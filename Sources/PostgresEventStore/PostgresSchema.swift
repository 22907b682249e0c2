import EventLog
import PostgresNIO

/// The event log's tables in PostgreSQL, in the schema `spike`, with the same values as LMDB's
/// databases (docs/log-format.md): `events` (sequence → record bytes), `meta` (format, log id,
/// head), `keys` (the key table), `snapshots` (derived checkpoints), and `schema_version`. Migrations are applied in order at a
/// writable open, under an advisory lock so that replicas starting together apply each once;
/// a schema newer than this build refuses to open.
enum PostgresSchema {
    /// Each migration's statements (one per query: the extended protocol takes one at a time).
    static let migrations: [(version: Int, statements: [String])] = [
        (1, [
            "CREATE TABLE spike.meta (name text PRIMARY KEY, value bytea NOT NULL)",
            "CREATE TABLE spike.events (sequence bigint PRIMARY KEY CHECK (sequence > 0), record bytea NOT NULL)",
            "CREATE TABLE spike.keys (id bytea PRIMARY KEY, value bytea NOT NULL)",
            // Records are never changed or deleted, in PostgreSQL as in LMDB: the table refuses it.
            """
            CREATE FUNCTION spike.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'spike.events is append-only: records are never changed or deleted'; END $$
            """,
            """
            CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON spike.events
            FOR EACH STATEMENT EXECUTE FUNCTION spike.refuse_change()
            """,
        ]),
        // Checkpoints of the Nexus' data projection (derived data: `ProjectionSnapshot`).
        (2, ["CREATE TABLE spike.snapshots (sequence bigint PRIMARY KEY, snapshot bytea NOT NULL)"]),
    ]

    static var latestVersion: Int { migrations.last!.version }

    /// Serializes migrations across processes (any constant unique to this use).
    static let migrationLock: Int64 = 0x5350_494B_454C_4F47  // "SPIKELOG"
    /// Held by the replica whose turn it is to decide and append (`EventStore.inTurn`).
    static let turnLock: Int64 = 0x5350_494B_4554_524E  // "SPIKETRN"

    /// Brings the schema to the latest version and creates the log's meta if there is none;
    /// returns the log id. Runs in one transaction.
    static func migrate(_ session: PostgresSession, newLogID: LogID?) throws -> LogID {
        try session.transaction {
            try session.query("SELECT pg_advisory_xact_lock(\(migrationLock))")
            try session.query("CREATE SCHEMA IF NOT EXISTS spike")
            try session.query("""
                CREATE TABLE IF NOT EXISTS spike.schema_version (
                    version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let found = try currentVersion(session)
            guard found <= latestVersion else { throw LogError.unsupportedSchema(found: found, supported: latestVersion) }
            for migration in migrations where migration.version > found {
                for statement in migration.statements { try session.query(PostgresQuery(unsafeSQL: statement)) }
                try session.query("INSERT INTO spike.schema_version (version) VALUES (\(migration.version))")
            }
            if let logID = try readLogID(session) { return logID }
            let logID = newLogID ?? LogID.random()
            try session.query("""
                INSERT INTO spike.meta (name, value) VALUES
                ('format', \(ByteBuffer(bytes: LogMeta.encodedFormat))), ('log-id', \(ByteBuffer(bytes: logID.bytes)))
                """)
            return logID
        }
    }

    /// Checks, without changing anything, that the schema is the one this build writes and
    /// that it holds a log; returns its id.
    static func check(_ session: PostgresSession) throws -> LogID {
        let exists = try session.query("SELECT to_regclass('spike.schema_version') IS NOT NULL")
        guard try exists.first?.decode(Bool.self) == true else {
            throw LogError.corruptMeta(key: "format", reason: "\(session.url.place) holds no spike log")
        }
        let found = try currentVersion(session)
        guard found == latestVersion else {
            if found > latestVersion { throw LogError.unsupportedSchema(found: found, supported: latestVersion) }
            throw LogError.corruptMeta(key: "schema", reason: "version \(found); open it once for writing (spike nexus) to migrate it to \(latestVersion)")
        }
        guard let logID = try readLogID(session) else {
            throw LogError.corruptMeta(key: "format", reason: "\(session.url.place) holds no spike log")
        }
        return logID
    }

    private static func currentVersion(_ session: PostgresSession) throws -> Int {
        let rows = try session.query("SELECT coalesce(max(version), 0) FROM spike.schema_version")
        return Int(try rows.first?.decode(Int32.self) ?? 0)
    }

    private static func readLogID(_ session: PostgresSession) throws -> LogID? {
        var format: ByteBuffer?
        var logID: ByteBuffer?
        for row in try session.query("SELECT name, value FROM spike.meta WHERE name IN ('format', 'log-id')") {
            let (name, value) = try row.decode((String, ByteBuffer).self)
            if name == "format" { format = value } else { logID = value }
        }
        guard format != nil || logID != nil else { return nil }
        guard let format else { throw LogError.corruptMeta(key: "format", reason: "missing") }
        guard let logID else { throw LogError.corruptMeta(key: "log-id", reason: "missing") }
        try format.withUnsafeReadableBytes { try LogMeta.checkFormat($0) }
        return try logID.withUnsafeReadableBytes { try LogMeta.decodeLogID($0) }
    }
}
