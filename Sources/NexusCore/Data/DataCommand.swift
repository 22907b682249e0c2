import Crypto
import EventLog
import Foundation
import Projections

/// A write to the Nexus' data, as the API asks for it.
public enum DataCommand: Sendable {
    /// The values are sealed already (`NexusStore.seal`), in the request's task.
    case putSecret(path: String, sealed: VersionSeal.Sealed, cas: Int?)
    case deleteSecret(path: String, versions: [Int])
    case undeleteSecret(path: String, versions: [Int])
    case destroySecret(path: String, versions: [Int])
    case putPolicy(name: String, spiffeidPattern: String, pathPattern: String, permissions: [Permission])
    case deletePolicy(name: String)
    /// A refusal (or a `RefusalLedger` summary of equal ones) to record.
    case denyAccess(AccessDenied)
}

/// What became of a command.
public enum DataOutcome: Equatable, Sendable {
    /// Durable (or, for a command that changes nothing, accepted).
    case done
    case notFound
    /// A check-and-set put found another current version.
    case versionMismatch(current: Int)
    /// Refused by a rule beyond syntax (e.g. ADR-0033); SPIKE's `entity_invalid`.
    case invalid(String)
    /// No root key in memory yet.
    case notReady
    /// A put's value was sealed under the keys of an epoch a rotation has just closed: seal it
    /// again and retry (nothing was written).
    case sealedForAnotherEpoch
    /// The log refused the write; nothing was written.
    case failed(String)
    /// The log's volume is full; nothing was written, and the write may succeed once space is freed.
    case storageFull(String)
    /// The log's store cannot be reached; nothing was acknowledged, and the write may be retried.
    case storeUnavailable(String)
}

/// Who asked for a command, and when (the wall clock, in milliseconds since the Unix epoch).
public struct DataContext: Sendable {
    public var actor: String
    public var trail: String
    public var now: Int64

    public init(actor: String, trail: String, now: Int64) {
        self.actor = actor
        self.trail = trail
        self.now = now
    }
}

/// The decisions of one group commit: each command is decided against a snapshot of the
/// projection overlaid with the effects of the commands before it in the batch, and becomes zero
/// or one event plus the key-table changes that go with it. Pure: no I/O, no clock, no lock.
struct DataBatch {
    /// The entries the batch's events change, folded (a policy deleted is `.some(nil)`).
    private(set) var secrets: [String: SecretEntry] = [:]
    private(set) var policies: [String: Policy?] = [:]
    private(set) var events: [DomainEvent] = []
    private(set) var keyChanges = KeyTableChanges()

    let keys: DataKeys
    let maxVersions: Int
    let base: DataProjection

    init(keys: DataKeys, maxVersions: Int, base: DataProjection) {
        self.keys = keys
        self.maxVersions = maxVersions
        self.base = base
    }

    mutating func decide(_ command: DataCommand, _ context: DataContext) -> DataOutcome {
        switch command {
        case .putSecret(let path, let sealed, let cas):
            let entry = secret(path)
            if let cas, cas != (entry?.currentVersion ?? 0) { return .versionMismatch(current: entry?.currentVersion ?? 0) }
            // Sealed before a rotation swapped the keys: the caller seals it again.
            guard sealed.epoch == keys.epoch else { return .sealedForAnotherEpoch }
            let current = entry ?? SecretEntry()
            let version = current.nextVersion
            let pruned = current.pruned(adding: version, maxVersions: maxVersions)
            let put = SecretPut(path: path, version: version, keyID: Data(sealed.keyID), sealedValue: Data(sealed.sealedValue),
                                maxVersions: maxVersions, pruned: pruned, at: context.now, epoch: keys.epoch)
            keyChanges.puts.append(KeyTableEntry(id: sealed.keyID, value: sealed.wrappedKey))
            keyChanges.deletes += current.keysShredded(by: put)
            var updated = current
            updated.apply(put, epoch: keys.epoch)
            secrets[path] = updated
            record(put, context)
            return .done
        case .deleteSecret(let path, let versions):
            return changeVersions(path, context, nothingToChange: .done, resolve: { $0.versionsToDelete(versions) }, as: SecretDeleted.self)
        case .undeleteSecret(let path, let versions):
            return changeVersions(path, context, nothingToChange: .notFound, resolve: { $0.versionsToUndelete(versions) }, as: SecretUndeleted.self)
        case .destroySecret(let path, let versions):
            return changeVersions(path, context, nothingToChange: .notFound, resolve: { $0.versionsToDestroy(versions) }, as: SecretDestroyed.self)
        case .putPolicy(let name, let spiffeidPattern, let pathPattern, let permissions):
            do {
                try Policy.check(spiffeidPattern: spiffeidPattern, pathPattern: pathPattern)
            } catch {
                return .invalid(error.description)
            }
            let existing = policy(name)
            let put = PolicyPut(name: name, spiffeidPattern: spiffeidPattern, pathPattern: pathPattern,
                                permissions: permissions.map(\.rawValue), createdAt: existing?.createdAt ?? context.now, updatedAt: context.now)
            policies[name] = .some(Policy(put))
            record(put, context)
            return .done
        case .deletePolicy(let name):
            guard policy(name) != nil else { return .notFound }
            policies[name] = .some(nil)
            record(PolicyDeleted(name: name, at: context.now), context)
            return .done
        case .denyAccess(let denied):
            record(denied, context)
            return .done
        }
    }

    /// Delete, undelete and destroy: resolve the versions the command names against the entry,
    /// then record the change; a destroy also deletes the versions' keys from the key table.
    private mutating func changeVersions<Change>(
        _ path: String, _ context: DataContext, nothingToChange: DataOutcome,
        resolve: (SecretEntry) -> [Int], as _: SecretVersionsChanged<Change>.Type
    ) -> DataOutcome {
        guard var entry = secret(path) else { return .notFound }
        let resolved = resolve(entry)
        guard !resolved.isEmpty else { return nothingToChange }
        let event = SecretVersionsChanged<Change>(path: path, versions: resolved, at: context.now)
        keyChanges.deletes += entry.keysShredded(by: event)
        entry.apply(event, epoch: keys.epoch)
        secrets[path] = entry
        record(event, context)
        return .done
    }

    private func secret(_ path: String) -> SecretEntry? {
        if let overlaid = secrets[path] { return overlaid }
        return base.secrets[path]
    }

    private func policy(_ name: String) -> Policy? {
        if let overlaid = policies[name] { return overlaid }
        return base.policies[name]
    }

    private mutating func record(_ payload: any EventPayload, _ context: DataContext) {
        events.append(DomainEvent(actor: context.actor, trail: context.trail, payload))
    }
}
