import Foundation

/// One version of a secret in the projection: its value stays sealed (`VersionSeal`) and is
/// opened per request with the version key from the key table.
public struct SecretVersion: Equatable, Sendable {
    public var version: Int
    public var createdAt: Int64
    public var deletedAt: Int64?
    /// Set once the version's key was shredded: the value can never be read again.
    public var destroyed: Bool
    public var keyID: [UInt8]
    public var sealedValue: [UInt8]
    /// The epoch the value was sealed for: its associated data (the version key itself is
    /// wrapped under the current epoch's data key, re-wrapped at every rotation).
    public var epoch: UInt32

    /// Readable: neither deleted nor destroyed.
    public var isLive: Bool { deletedAt == nil && !destroyed }
}

/// A secret path's versions and metadata, as folded from its events. SPIKE's model (reference
/// §4.1) with the fixes of §13: a put never reuses a version number, undelete with no versions
/// restores the newest deleted one, and pruned versions are gone.
public struct SecretEntry: Equatable, Sendable {
    public private(set) var versions: [Int: SecretVersion] = [:]
    /// The newest live version; 0 when none is live.
    public private(set) var currentVersion = 0
    /// The oldest live version; 0 when none is live.
    public private(set) var oldestVersion = 0
    public private(set) var createdAt: Int64 = 0
    public private(set) var updatedAt: Int64 = 0
    public private(set) var maxVersions = 0

    public init() {}

    /// An entry as a snapshot kept it (`ProjectionSnapshot`): the live bounds are recomputed.
    init(restoring versions: [Int: SecretVersion], createdAt: Int64, updatedAt: Int64, maxVersions: Int) {
        self.versions = versions
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.maxVersions = maxVersions
        recompute()
    }

    /// The version a read of `version` (0 = current) gets, if it is live.
    public func readable(_ version: Int) -> SecretVersion? {
        let number = version == 0 ? currentVersion : version
        guard number > 0, let found = versions[number], found.isLive else { return nil }
        return found
    }

    // MARK: - Decisions (a command against the current entry becomes an event, or is refused)

    /// The number the next put gets: one above every version ever kept, deleted or not.
    public var nextVersion: Int { (versions.keys.max() ?? 0) + 1 }

    /// The versions a put of `version` pushes out when at most `maxVersions` are kept.
    public func pruned(adding version: Int, maxVersions: Int) -> [Int] {
        let kept = versions.keys.sorted() + [version]
        return Array(kept.prefix(max(0, kept.count - max(1, maxVersions))))
    }

    /// SPIKE's delete: no versions means the current one, 0 means the current one; versions that
    /// do not exist are ignored.
    public func versionsToDelete(_ requested: [Int]) -> [Int] {
        let wanted = requested.isEmpty ? [currentVersion] : requested.map { $0 == 0 ? currentVersion : $0 }
        return Set(wanted).filter { $0 > 0 && versions[$0] != nil }.sorted()
    }

    /// Undelete: no versions (or 0) means the newest deleted version; destroyed versions cannot
    /// come back. Empty when there is nothing to undelete.
    public func versionsToUndelete(_ requested: [Int]) -> [Int] {
        let newestDeleted = versions.values.filter { $0.deletedAt != nil && !$0.destroyed }.map(\.version).max()
        let wanted = requested.isEmpty ? [newestDeleted ?? 0] : requested.map { $0 == 0 ? (newestDeleted ?? 0) : $0 }
        return Set(wanted).filter { versions[$0].map { $0.deletedAt != nil && !$0.destroyed } ?? false }.sorted()
    }

    /// Destroy: no versions (or 0) means the current one; already destroyed versions are skipped.
    public func versionsToDestroy(_ requested: [Int]) -> [Int] {
        let wanted = requested.isEmpty ? [currentVersion] : requested.map { $0 == 0 ? currentVersion : $0 }
        return Set(wanted).filter { versions[$0].map { !$0.destroyed } ?? false }.sorted()
    }

    /// The version keys an event of this path shreds from the key table, read before it is
    /// folded: a put's pruned versions', a destroy's versions'. What the data store deletes in the
    /// event's transaction, and what a replica that folds the event forgets.
    public func keysShredded(by payload: any EventPayload) -> [[UInt8]] {
        let gone: [Int] = switch payload {
        case let put as SecretPut: put.pruned
        case let destroyed as SecretDestroyed: destroyed.versions
        default: []
        }
        return gone.compactMap { versions[$0]?.keyID }
    }

    // MARK: - Fold

    /// Folds a secret event of this path, in `epoch`; other events change nothing.
    public mutating func apply(_ payload: any EventPayload, epoch: UInt32) {
        switch payload {
        case let put as SecretPut: apply(put, epoch: put.epoch ?? epoch)
        case let change as SecretDeleted: applyDeleted(change)
        case let change as SecretUndeleted: applyUndeleted(change)
        case let change as SecretDestroyed: applyDestroyed(change)
        default: break
        }
    }

    private mutating func apply(_ put: SecretPut, epoch: UInt32) {
        if versions.isEmpty && createdAt == 0 { createdAt = put.at }
        versions[put.version] = SecretVersion(version: put.version, createdAt: put.at, deletedAt: nil, destroyed: false,
                                              keyID: Array(put.keyID), sealedValue: Array(put.sealedValue), epoch: epoch)
        for number in put.pruned { versions[number] = nil }
        maxVersions = put.maxVersions
        updatedAt = put.at
        recompute()
    }

    private mutating func applyDeleted(_ change: SecretDeleted) {
        for number in change.versions { versions[number]?.deletedAt = change.at }
        updatedAt = change.at
        recompute()
    }

    private mutating func applyUndeleted(_ change: SecretUndeleted) {
        for number in change.versions { versions[number]?.deletedAt = nil }
        updatedAt = change.at
        recompute()
    }

    private mutating func applyDestroyed(_ change: SecretDestroyed) {
        for number in change.versions {
            versions[number]?.destroyed = true
            versions[number]?.sealedValue = []
        }
        updatedAt = change.at
        recompute()
    }

    private mutating func recompute() {
        // One pass, nothing copied: this runs for every event folded.
        var newest = 0, oldest = 0
        for version in versions.values where version.isLive {
            newest = max(newest, version.version)
            oldest = oldest == 0 ? version.version : min(oldest, version.version)
        }
        currentVersion = newest
        oldestVersion = oldest
    }
}
