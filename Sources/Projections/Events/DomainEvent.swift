import Foundation

/// One event of the system's vocabulary (DESIGN §5) as it is stored in a record body: who acted
/// (a SPIFFE ID), the request or trail it belongs to, and what happened. The record header's
/// kind says which payload follows; bodies are JSON so that exports and audits read them as is.
/// Key material inside a payload is always sealed (`SealedShard`, `PasswordWrap`).
public struct DomainEvent: Equatable, Sendable {
    public var actor: String
    public var trail: String
    public var payload: Payload

    public init(actor: String, trail: String, _ payload: Payload) {
        self.actor = actor
        self.trail = trail
        self.payload = payload
    }

    public enum Payload: Equatable, Sendable {
        case epochStarted(EpochStarted)
        case nexusStarted(NexusStarted)
        case nexusStopped(NexusStopped)
        case rootKeyRestored(RootKeyRestored)
        case rootKeyRestoreFailed(RootKeyRestoreFailed)
        case shardDistributed(ShardDistributed)
        case keeperPolled(KeeperPolled)
        case keeperRehydrated(KeeperRehydrated)
        case secretPut(SecretPut)
        case secretDeleted(SecretDeleted)
        case secretUndeleted(SecretUndeleted)
        case secretDestroyed(SecretDestroyed)
        case policyPut(PolicyPut)
        case policyDeleted(PolicyDeleted)
        case accessDenied(AccessDenied)
    }

    public var kind: EventKind {
        switch payload {
        case .epochStarted: .epochStarted
        case .nexusStarted: .nexusStarted
        case .nexusStopped: .nexusStopped
        case .rootKeyRestored: .rootKeyRestored
        case .rootKeyRestoreFailed: .rootKeyRestoreFailed
        case .shardDistributed: .shardDistributed
        case .keeperPolled: .keeperPolled
        case .keeperRehydrated: .keeperRehydrated
        case .secretPut: .secretPut
        case .secretDeleted: .secretDeleted
        case .secretUndeleted: .secretUndeleted
        case .secretDestroyed: .secretDestroyed
        case .policyPut: .policyPut
        case .policyDeleted: .policyDeleted
        case .accessDenied: .accessDenied
        }
    }

    /// The record body: `{"actor":…,"trail":…,"data":{…}}` with sorted keys.
    public func encoded() -> [UInt8] {
        switch payload {
        case .epochStarted(let data): encode(data)
        case .nexusStarted(let data): encode(data)
        case .nexusStopped(let data): encode(data)
        case .rootKeyRestored(let data): encode(data)
        case .rootKeyRestoreFailed(let data): encode(data)
        case .shardDistributed(let data): encode(data)
        case .keeperPolled(let data): encode(data)
        case .keeperRehydrated(let data): encode(data)
        case .secretPut(let data): encode(data)
        case .secretDeleted(let data): encode(data)
        case .secretUndeleted(let data): encode(data)
        case .secretDestroyed(let data): encode(data)
        case .policyPut(let data): encode(data)
        case .policyDeleted(let data): encode(data)
        case .accessDenied(let data): encode(data)
        }
    }

    /// Decodes a record body of `kind`; nil for a kind this vocabulary does not (yet) cover, so
    /// a reader skips events it does not know instead of failing on them.
    public static func decode(kind: UInt16, body: some Collection<UInt8>) throws(EventDecodingError) -> DomainEvent? {
        guard let known = EventKind(rawValue: kind) else { return nil }
        let data = Data(body)
        switch known {
        case .epochStarted: return try decode(data, kind: known, as: EpochStarted.self) { .epochStarted($0) }
        case .nexusStarted: return try decode(data, kind: known, as: NexusStarted.self) { .nexusStarted($0) }
        case .nexusStopped: return try decode(data, kind: known, as: NexusStopped.self) { .nexusStopped($0) }
        case .rootKeyRestored: return try decode(data, kind: known, as: RootKeyRestored.self) { .rootKeyRestored($0) }
        case .rootKeyRestoreFailed: return try decode(data, kind: known, as: RootKeyRestoreFailed.self) { .rootKeyRestoreFailed($0) }
        case .shardDistributed: return try decode(data, kind: known, as: ShardDistributed.self) { .shardDistributed($0) }
        case .keeperPolled: return try decode(data, kind: known, as: KeeperPolled.self) { .keeperPolled($0) }
        case .keeperRehydrated: return try decode(data, kind: known, as: KeeperRehydrated.self) { .keeperRehydrated($0) }
        case .secretPut: return try decode(data, kind: known, as: SecretPut.self) { .secretPut($0) }
        case .secretDeleted: return try decode(data, kind: known, as: SecretDeleted.self) { .secretDeleted($0) }
        case .secretUndeleted: return try decode(data, kind: known, as: SecretUndeleted.self) { .secretUndeleted($0) }
        case .secretDestroyed: return try decode(data, kind: known, as: SecretDestroyed.self) { .secretDestroyed($0) }
        case .policyPut: return try decode(data, kind: known, as: PolicyPut.self) { .policyPut($0) }
        case .policyDeleted: return try decode(data, kind: known, as: PolicyDeleted.self) { .policyDeleted($0) }
        case .accessDenied: return try decode(data, kind: known, as: AccessDenied.self) { .accessDenied($0) }
        default: return nil
        }
    }

    private struct Envelope<Data: Codable>: Codable {
        var actor: String
        var trail: String
        var data: Data
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private func encode<T: Codable>(_ data: T) -> [UInt8] {
        // Encoding plain structs of strings, numbers and Data cannot fail.
        Array(try! Self.encoder.encode(Envelope(actor: actor, trail: trail, data: data)))
    }

    private static func decode<T: Codable>(
        _ data: Foundation.Data, kind: EventKind, as type: T.Type, _ wrap: (T) -> Payload
    ) throws(EventDecodingError) -> DomainEvent {
        do {
            let envelope = try JSONDecoder().decode(Envelope<T>.self, from: data)
            return DomainEvent(actor: envelope.actor, trail: envelope.trail, wrap(envelope.data))
        } catch {
            throw EventDecodingError(kind: kind.name, reason: "\(error)")
        }
    }
}

/// A record body that does not decode as the event its header names.
public struct EventDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public let kind: String
    public let reason: String

    public var description: String { "a \(kind) event body does not decode: \(reason)" }
}
