import Foundation

/// What a kind of event does to the Nexus' state, which decides what a reader may do with a
/// record of a kind it does not know.
public enum EventEffect: String, Sendable {
    /// Folding it changes what the Nexus serves or how it gets its root key: a reader that
    /// cannot decode it must refuse the log rather than fold around it.
    case changesState
    /// An observation (a poll summary, a refusal): a reader may skip it, and count what it skipped.
    case informational
}

/// One kind of event: the number in every record header of that kind, and the stable name that
/// exports, the audit report and users' analysis scripts key on. Both are part of the log
/// format: written once, never derived from a Swift name, never reused.
public struct EventKind: Hashable, Sendable, CustomStringConvertible {
    public let number: UInt16
    public let name: String
    public let effect: EventEffect
    /// Records of this kind carry an authenticator under a key derived from the root key
    /// (`EventAuthentication`), checked before they are folded: whoever holds only the host
    /// audit key can read them but cannot add one.
    public let authenticated: Bool

    public init(_ number: UInt16, _ name: String, _ effect: EventEffect, authenticated: Bool = false) {
        self.number = number
        self.name = name
        self.effect = effect
        self.authenticated = authenticated
    }

    public var description: String { name }

    /// Kind numbers from here on are informational by rule, so that a reader older than the
    /// writer knows it may skip one it has never heard of. Below it an unknown kind is refused.
    public static let firstInformationalNumber: UInt16 = 0x8000

    /// What a reader may assume of a kind number it may not know.
    public static func effect(ofNumber number: UInt16) -> EventEffect {
        EventVocabulary.kind(number: number)?.effect
            ?? (number >= firstInformationalNumber ? .informational : .changesState)
    }
}

/// The payload of one kind of event, as its record body carries it (JSON, inside the envelope
/// `{"actor":…,"data":…,"trail":…}`). Adding an event to the vocabulary is one type conforming
/// to this and one line in `EventVocabulary.payloadTypes`.
public protocol EventPayload: Codable, Equatable, Sendable {
    static var kind: EventKind { get }

    /// The body's fields that hold key material or secret values (sealed or not), as dotted
    /// paths into nested objects (an array's elements share their array's path): exports
    /// replace each with an HMAC or leave it out, never write it (`EventExporter`).
    static var sealedFields: [String] { get }

    // The body codec. Requirements (with default implementations in DomainEvent.swift) rather
    // than extension methods, so that each event type's witness is specialized: decoding through
    // an existential metatype would otherwise run the unspecialized generic Codable path, several
    // times slower on a replay of the whole log.
    func envelope(actor: String, trail: String) -> [UInt8]
    static func decodeEnvelope(_ data: Data) throws(EventDecodingError) -> DomainEvent
    /// The body as the Nexus writes it, read without `JSONDecoder`; nil for any other form
    /// (then `decodeEnvelope` decides). Only the kinds a log holds in bulk have one.
    static func decodeCanonical(_ body: UnsafeRawBufferPointer) -> DomainEvent?
    func isEqual(to other: any EventPayload) -> Bool
}

/// The vocabulary of the system (DESIGN §5), in one place. Numbers retired or reserved for
/// events still to come are listed in `docs/log-format.md`; they are unknown kinds until they
/// are registered here, and a log holding one is refused (they change state).
public enum EventVocabulary {
    public static let payloadTypes: [any EventPayload.Type] = [
        // Lifecycle
        EpochStarted.self, NexusStarted.self, NexusStopped.self, RootKeyRestored.self,
        RootKeyRestoreFailed.self, SystemReset.self, AdminPasswordAdded.self, AdminPasswordChanged.self,
        AdminPasswordRemoved.self, RecoveryShardsExported.self, RootKeyRotated.self, RootKeyRotationCompleted.self,
        RollbackDetected.self, LogHeadAccepted.self,
        // Keepers
        ShardDistributed.self, KeeperPolled.self, KeeperRehydrated.self,
        // Data
        SecretPut.self, SecretDeleted.self, SecretUndeleted.self, SecretDestroyed.self,
        PolicyPut.self, PolicyDeleted.self, AccessDenied.self,
    ]

    /// The data plane's kinds: secrets, policies and refusals, which the data store writes and
    /// folds; the lifecycle folds every other kind.
    public static let dataPlaneKinds: Set<UInt16> = [
        SecretPut.kind, SecretDeleted.kind, SecretUndeleted.kind, SecretDestroyed.kind, PolicyPut.kind, PolicyDeleted.kind, AccessDenied.kind,
    ].reduce(into: []) { $0.insert($1.number) }

    private static let byNumber: [UInt16: any EventPayload.Type] = {
        var table: [UInt16: any EventPayload.Type] = [:]
        var names = Set<String>()
        for type in payloadTypes {
            precondition(table[type.kind.number] == nil, "event kind \(type.kind.number) registered twice")
            precondition(names.insert(type.kind.name).inserted, "event name \(type.kind.name) registered twice")
            precondition(KindSlot(type.kind.number) != nil, "event kind \(type.kind.number) is outside the numbers KindSlot indexes")
            table[type.kind.number] = type
        }
        return table
    }()

    public static var kinds: [EventKind] { payloadTypes.map { $0.kind } }

    /// The sealed fields of a kind number (`EventPayload.sealedFields`); none for an unknown one.
    public static func sealedFields(number: UInt16) -> [String] { byNumber[number]?.sealedFields ?? [] }

    public static func kind(number: UInt16) -> EventKind? { byNumber[number]?.kind }

    static func payloadType(number: UInt16) -> (any EventPayload.Type)? { byNumber[number] }

    /// The stable name of a kind number, or `Kind<n>` for one this build does not know.
    public static func name(of number: UInt16) -> String {
        kind(number: number)?.name ?? "Kind\(number)"
    }
}

/// A dense index of the kind numbers the vocabulary uses (below 0x100, and 0x8000 up to 0x8100
/// for informational kinds; `EventVocabulary` refuses to register another), for a table per
/// kind that is read once per event without hashing the number (`EventExporter`).
struct KindSlot {
    static let count = 0x200
    let index: Int

    init?(_ number: UInt16) {
        switch number {
        case 0..<0x100: index = Int(number)
        case 0x8000..<0x8100: index = 0x100 + Int(number - 0x8000)
        default: return nil
        }
    }
}
