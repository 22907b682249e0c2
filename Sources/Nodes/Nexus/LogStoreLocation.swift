import EventLog
import PostgresEventStore

/// Where a Nexus keeps its log: the embedded LMDB log in its data directory, or PostgreSQL,
/// which several replicas share (docs/adr/0015).
public enum LogStoreLocation: Sendable, CustomStringConvertible {
    case lmdb
    case postgres(PostgresURL)

    /// Opens the log for writing (`directory` is the data directory, for LMDB).
    public func open(directory: String) throws(LogError) -> any EventStore {
        switch self {
        case .lmdb: try EventLog.open(directory: directory)
        case .postgres(let url):
            // Several Nexus replicas may write it: each follows the others' records (docs/adr/0016).
            try PostgresEventStore.open(url: url)
        }
    }

    /// Where, for messages: never with a password.
    public var description: String {
        switch self {
        case .lmdb: "lmdb"
        case .postgres(let url): "\(url)"
        }
    }
}
