import Foundation

// The data vocabulary (DESIGN §5): secrets, policies and denials. Every event names the time it
// happened in milliseconds since the Unix epoch, so that the fold (and the metadata it shows)
// needs nothing but the events. Secret values are sealed; paths, versions and policies are not
// secret and are in the body for the audit trail.

/// A new version of a secret. Its value is sealed under a version key kept in the log's key
/// table (`VersionSeal`); `pruned` names the versions this put pushed out of `maxVersions`,
/// whose keys were deleted in the same transaction.
public struct SecretPut: EventPayload {
    public static let kind = EventKind(40, "SecretPut", .changesState, authenticated: true)
    public static let sealedFields = ["sealedValue"]

    public var path: String
    public var version: Int
    public var keyID: Data
    public var sealedValue: Data
    public var maxVersions: Int
    public var pruned: [Int]
    public var at: Int64
    /// The epoch the value was sealed for (its associated data); absent in records written
    /// before rotations existed: the epoch current where the record is.
    public var epoch: UInt32?

    public init(path: String, version: Int, keyID: Data, sealedValue: Data, maxVersions: Int, pruned: [Int], at: Int64, epoch: UInt32? = nil) {
        self.path = path
        self.version = version
        self.keyID = keyID
        self.sealedValue = sealedValue
        self.maxVersions = maxVersions
        self.pruned = pruned
        self.at = at
        self.epoch = epoch
    }

    /// `{"actor":…,"data":{"at":…,["epoch":…,]"keyID":…,"maxVersions":…,"path":…,"pruned":[…],
    /// "sealedValue":…,"version":…},"trail":…}`, the bytes `JSONEncoder` would write: what every
    /// secret write appends.
    public func envelope(actor: String, trail: String) -> [UInt8] {
        var out = CanonicalJSONWriter(capacity: 160 + actor.utf8.count + trail.utf8.count + path.utf8.count
            + (keyID.count + sealedValue.count) * 4 / 3 + pruned.count * 8)
        out.raw(#"{"actor":"#)
        out.string(actor)
        out.raw(#","data":{"at":"#)
        out.integer(at)
        if let epoch {
            out.raw(#","epoch":"#)
            out.integer(epoch)
        }
        out.raw(#","keyID":"#)
        out.base64(keyID)
        out.raw(#","maxVersions":"#)
        out.integer(maxVersions)
        out.raw(#","path":"#)
        out.string(path)
        out.raw(#","pruned":"#)
        out.integers(pruned)
        out.raw(#","sealedValue":"#)
        out.base64(sealedValue)
        out.raw(#","version":"#)
        out.integer(version)
        out.raw(#"},"trail":"#)
        out.string(trail)
        out.raw("}")
        return out.bytes
    }

    /// The same form read back: what a cold start decodes once per secret write.
    public static func decodeCanonical(_ body: UnsafeRawBufferPointer) -> DomainEvent? {
        var scanner = CanonicalBodyScanner(body)
        guard scanner.literal(#"{"actor":"#), let actor = scanner.string(),
              scanner.literal(#","data":{"at":"#), let at = scanner.integer() else { return nil }
        var epoch: UInt32?
        if scanner.literal(#","epoch":"#) {
            guard let value = scanner.integer().flatMap(UInt32.init(exactly:)) else { return nil }
            epoch = value
        }
        guard scanner.literal(#","keyID":"#), let keyID = scanner.base64(),
              scanner.literal(#","maxVersions":"#), let maxVersions = scanner.integer(),
              scanner.literal(#","path":"#), let path = scanner.string(),
              scanner.literal(#","pruned":"#), let pruned = scanner.integers(),
              scanner.literal(#","sealedValue":"#), let sealedValue = scanner.base64(),
              scanner.literal(#","version":"#), let version = scanner.integer(),
              scanner.literal(#"},"trail":"#), let trail = scanner.string(),
              scanner.literal("}"), scanner.atEnd else { return nil }
        return DomainEvent(actor: actor, trail: trail, SecretPut(path: path, version: version, keyID: keyID, sealedValue: sealedValue,
                                                                 maxVersions: maxVersions, pruned: pruned, at: Int64(at), epoch: epoch))
    }
}

/// Versions of a secret that changed state: the body of `SecretDeleted` (soft-deleted, data
/// kept and hidden from reads), `SecretUndeleted` (readable again) and `SecretDestroyed` (data
/// gone for good: the versions' keys were deleted from the key table in the same transaction, so
/// the sealed values still in the log can no longer be opened). One body, three kinds.
public struct SecretVersionsChanged<Change: SecretVersionsChange>: EventPayload {
    public static var kind: EventKind { Change.kind }

    public var path: String
    public var versions: [Int]
    public var at: Int64

    public init(path: String, versions: [Int], at: Int64) {
        self.path = path
        self.versions = versions
        self.at = at
    }
}

/// Which change a `SecretVersionsChanged` records.
public protocol SecretVersionsChange: Sendable {
    static var kind: EventKind { get }
}

public enum VersionsDeleted: SecretVersionsChange {
    public static let kind = EventKind(41, "SecretDeleted", .changesState, authenticated: true)
}

public enum VersionsUndeleted: SecretVersionsChange {
    public static let kind = EventKind(42, "SecretUndeleted", .changesState, authenticated: true)
}

public enum VersionsDestroyed: SecretVersionsChange {
    public static let kind = EventKind(43, "SecretDestroyed", .changesState, authenticated: true)
}

public typealias SecretDeleted = SecretVersionsChanged<VersionsDeleted>
public typealias SecretUndeleted = SecretVersionsChanged<VersionsUndeleted>
public typealias SecretDestroyed = SecretVersionsChanged<VersionsDestroyed>

/// A policy created or replaced (policies are named; the name is the identity).
public struct PolicyPut: EventPayload {
    public static let kind = EventKind(44, "PolicyPut", .changesState, authenticated: true)

    public var name: String
    public var spiffeidPattern: String
    public var pathPattern: String
    public var permissions: [String]
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(name: String, spiffeidPattern: String, pathPattern: String, permissions: [String], createdAt: Int64, updatedAt: Int64) {
        self.name = name
        self.spiffeidPattern = spiffeidPattern
        self.pathPattern = pathPattern
        self.permissions = permissions
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct PolicyDeleted: EventPayload {
    public static let kind = EventKind(45, "PolicyDeleted", .changesState, authenticated: true)

    public var name: String
    public var at: Int64

    public init(name: String, at: Int64) {
        self.name = name
        self.at = at
    }
}

/// A request refused for want of a permission; the event's actor is the caller.
public struct AccessDenied: EventPayload {
    public static let kind = EventKind(46, "AccessDenied", .informational)

    /// The API operation, e.g. `secret.get` or `policy.put`.
    public var operation: String
    /// The path the permission was checked on (a secret path or a `spike/system/…` path).
    public var path: String
    public var wants: [String]
    /// When (the last of them, for a summary).
    public var at: Int64
    /// A summary of repeats (`RefusalLedger`): how many equal refusals since the first one was
    /// written, and when the first of them came; absent for a single refusal.
    public var count: Int?
    public var firstAt: Int64?

    public init(operation: String, path: String, wants: [String], at: Int64, count: Int? = nil, firstAt: Int64? = nil) {
        self.operation = operation
        self.path = path
        self.wants = wants
        self.at = at
        self.count = count
        self.firstAt = firstAt
    }

    /// The refusals this event stands for.
    public var refusals: Int { count ?? 1 }
}
