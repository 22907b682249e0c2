import Crypto
import EventLog
import Foundation
import NexusCore
import Nodes
import Projections

/// A `NexusStore` over a real log in a fresh temporary directory, unlocked with a new root key.
final class StoreHarness: @unchecked Sendable {
    let directory: String
    let auditKey = Curve25519.KeyAgreement.PrivateKey()
    let rootKey = RootKey.generate()
    var log: EventLog
    var store: NexusStore
    let maxVersions: Int

    static let superuser = "spiffe://spike.ist/spike/pilot/role/superuser"

    init(maxVersions: Int = 10) throws {
        directory = NSTemporaryDirectory() + "spike-store-\(UUID().uuidString)"
        self.maxVersions = maxVersions
        log = try EventLog.open(directory: directory)
        log.setRecipients([LogRecipient(auditKey.publicKey)], epoch: 1)
        store = NexusStore(log: log, keyring: LogKeyring([]), projections: NexusProjections(), versionKeys: [:], maxVersions: maxVersions)
        try store.unlock(rootKey: rootKey, epoch: 1)
    }

    @discardableResult
    func put(_ path: String, _ values: [String: String], cas: Int? = nil) async -> DataOutcome {
        guard let sealed = try? store.seal(values, path: path) else { return .notReady }
        return await store.write(.putSecret(path: path, sealed: sealed, cas: cas), actor: Self.superuser, trail: "test")
    }

    @discardableResult
    func delete(_ path: String, _ versions: [Int]) async -> DataOutcome {
        await store.write(.deleteSecret(path: path, versions: versions), actor: Self.superuser, trail: "test")
    }

    @discardableResult
    func undelete(_ path: String, _ versions: [Int]) async -> DataOutcome {
        await store.write(.undeleteSecret(path: path, versions: versions), actor: Self.superuser, trail: "test")
    }

    @discardableResult
    func destroy(_ path: String, _ versions: [Int]) async -> DataOutcome {
        await store.write(.destroySecret(path: path, versions: versions), actor: Self.superuser, trail: "test")
    }

    func get(_ path: String, _ version: Int = 0) -> [String: String]? {
        if case .value(let values) = store.secret(path, version: version) { return values }
        return nil
    }

    /// Stops the store and closes the log, then opens both again from the directory: what a
    /// restarted Nexus would hold.
    func reopen() async throws -> NexusProjections {
        await store.stop()
        log.close()
        log = try EventLog.open(directory: directory)
        log.setRecipients([LogRecipient(auditKey.publicKey)], epoch: 1)
        let projections = try NexusProjections.replay(log, keyring: LogKeyring([auditKey]))
        store = NexusStore(log: log, keyring: LogKeyring([auditKey]), projections: projections, versionKeys: try log.keyTable(), maxVersions: maxVersions)
        try store.unlock(rootKey: rootKey, epoch: 1)
        return projections
    }

    /// Every event body in the log, decrypted with the audit key.
    func bodies() throws -> [(kind: UInt16, body: String)] {
        var bodies: [(UInt16, String)] = []
        _ = try log.reader(keyring: LogKeyring([auditKey])).replay { bodies.append(($0.kind, String(decoding: $0.body, as: UTF8.self))) }
        return bodies
    }

    func remove() async {
        await store.stop()
        log.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
