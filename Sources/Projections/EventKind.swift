/// The vocabulary of the system (DESIGN §5): the kind number in each record header. Numbers are
/// part of the log format and never reused.
public enum EventKind: UInt16, CaseIterable, Sendable {
    // Lifecycle
    case logCreated = 1
    case epochStarted = 2
    case nexusStarted = 3
    case nexusStopped = 4
    case rootKeyRestored = 5
    case rootKeyRestoreFailed = 6
    case adminPasswordAdded = 7
    case adminPasswordChanged = 8
    case systemReset = 9
    // Keepers
    case shardDistributed = 20
    case keeperPolled = 21
    case keeperRehydrated = 22
    // Data
    case secretPut = 40
    case secretDeleted = 41
    case secretUndeleted = 42
    case secretDestroyed = 43
    case policyPut = 44
    case policyDeleted = 45
    case accessDenied = 46
    case secretRead = 47

    /// The name used in exports and audit output, e.g. `ShardDistributed`.
    public var name: String {
        let raw = String(describing: self)
        return raw.prefix(1).uppercased() + raw.dropFirst()
    }

    /// A readable name for any kind number, known or not.
    public static func name(of raw: UInt16) -> String {
        EventKind(rawValue: raw)?.name ?? "Kind\(raw)"
    }
}
