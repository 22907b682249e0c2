import Crypto
import EventLog
import Foundation
import Projections
import Testing

/// What `spike log export` writes of each event: the body's fields, with every sealed field
/// replaced by an HMAC or left out, read from a real log.
@Suite struct EventExporterTests {
    static let wrap = PasswordWrap(admin: "spiffe://spike.ist/spike/pilot/role/superuser", salt: Data("SALTSALTSALTSALT".utf8), cost: .testing,
                                   sealed: Data("SEALEDPRIVATEKEY".utf8), publicKey: Data("PUBLICKEYPUBLICK".utf8),
                                   sealedRootKey: Data("SEALEDROOTKEYXYZ".utf8), at: 7)
    static let genesis = EpochStarted(epoch: 1, shares: 3, threshold: 2, keepers: ["https://k1"], epochPublicKey: Data("EPOCHPUBLICKEY00".utf8),
                                      wrappedEpochPrivateKey: Data("WRAPPEDEPOCHKEY0".utf8), passwordWraps: [wrap, wrap],
                                      keyCheckValue: Data("KEYCHECKVALUE000".utf8))
    /// Base64 of every sealed byte string above: none may appear in an export.
    static let secrets = ["SALTSALTSALTSALT", "SEALEDPRIVATEKEY", "SEALEDROOTKEYXYZ", "WRAPPEDEPOCHKEY0", "KEYCHECKVALUE000",
                          "SEALEDVALUE00000", "SEALEDSHARD00000", "PREVIOUSKEYS0000"].map { Data($0.utf8).base64EncodedString() }

    /// Appends `payloads` to a real log and exports each with `exporter`.
    static func export(_ payloads: [any EventPayload], with exporter: EventExporter, actor: String = "spiffe://spike.ist/spike/nexus",
                       trail: String = "t") async throws -> [ExportedEvent] {
        let log = try ReplayTests.Log()
        for payload in payloads { try await log.append(payload, actor: actor, trail: trail) }
        var out: [ExportedEvent] = []
        _ = try log.log.replay(from: 1, through: nil, keyring: LogKeyring([log.key])) { view in
            out.append(try exporter.export(view.header, body: view.body))
        }
        return out
    }

    static func data(_ event: ExportedEvent) throws -> [String: Any] {
        let bytes = try #require(event.data)
        return try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    static let sensitive: [any EventPayload] = [
        genesis,
        AdminPasswordAdded(epoch: 1, wrap: wrap),
        ShardDistributed(epoch: 1, keeper: 2, keeperURL: "https://k2", sealedShard: Data("SEALEDSHARD00000".utf8)),
        SecretPut(path: "apps/db", version: 3, keyID: Data("KEYID".utf8), sealedValue: Data("SEALEDVALUE00000".utf8), maxVersions: 10,
                  pruned: [1], at: 5, epoch: 1),
        RootKeyRotated(fromEpoch: 1, next: genesis, previousKeyCheckValue: Data("KEYCHECKVALUE000".utf8),
                       previousKeys: Data("PREVIOUSKEYS0000".utf8), link: Data("LINK".utf8), at: 9),
    ]

    @Test func sealedFieldsAreLeftOutAndTheRestKeptAsWritten() async throws {
        let events = try await Self.export(Self.sensitive, with: EventExporter(sealed: .omit))
        #expect(events.map(\.kind) == ["EpochStarted", "AdminPasswordAdded", "ShardDistributed", "SecretPut", "RootKeyRotated"])
        for event in events {
            let text = String(decoding: try #require(event.data), as: UTF8.self)
            for secret in Self.secrets { #expect(!text.contains(secret), "\(event.kind): \(text)") }
        }
        let genesis = try Self.data(events[0])
        #expect(Set(genesis.keys) == ["epoch", "shares", "threshold", "keepers", "epochPublicKey", "passwordWraps"])
        let wraps = try #require(genesis["passwordWraps"] as? [[String: Any]])
        #expect(wraps.count == 2 && Set(wraps[0].keys) == ["admin", "cost", "publicKey", "at"])
        let put = try Self.data(events[3])
        #expect(put["path"] as? String == "apps/db" && put["version"] as? Int == 3 && put["pruned"] as? [Int] == [1] && put["sealedValue"] == nil)
        #expect(events[3].path == "apps/db" && events[2].keeper == 2 && events[3].keeper == nil)
        let rotated = try Self.data(events[4])
        #expect(Set(rotated.keys) == ["fromEpoch", "next", "link", "at"])
        #expect(Set(try #require(rotated["next"] as? [String: Any]).keys) == ["epoch", "shares", "threshold", "keepers", "epochPublicKey", "passwordWraps"])
    }

    @Test func withAnHMACKeyEachSealedFieldIsItsHMACEqualForEqualBytes() async throws {
        let key = SymmetricKey(size: .bits256)
        let events = try await Self.export(Self.sensitive, with: EventExporter(sealed: .hmac(key)))
        let wraps = try #require(try Self.data(events[0])["passwordWraps"] as? [[String: Any]])
        let salt = try #require(wraps[0]["salt"] as? String)
        #expect(salt == wraps[1]["salt"] as? String)
        let expected = HMAC<SHA256>.authenticationCode(for: Array(#""\#(Data("SALTSALTSALTSALT".utf8).base64EncodedString())""#.utf8), using: key)
        #expect(salt == "hmac-sha256:" + expected.map { String(format: "%02x", $0) }.joined())
        #expect((try Self.data(events[1])["wrap"] as? [String: Any])?["salt"] as? String == salt)
        let value = try #require(try Self.data(events[3])["sealedValue"] as? String)
        #expect(value.hasPrefix("hmac-sha256:") && value.count == 12 + 64)
        // Another key, other HMACs: nothing to correlate across exports made with different keys.
        let other = try await Self.export([Self.sensitive[3]], with: EventExporter(sealed: .hmac(SymmetricKey(size: .bits256))))
        #expect(try Self.data(other[0])["sealedValue"] as? String != value)
    }

    /// The direct JSON line (what an export without body filters writes) is the event's line.
    @Test func theDirectLineIsTheExportedEventsLine() async throws {
        let log = try ReplayTests.Log()
        let payloads = Self.sensitive + [KeeperPolled(keeper: 1, outcome: .empty, count: 2, firstAt: 1, lastAt: 2, maxLatencyMillis: 3),
                                         NexusStopped(instance: "i", reason: "a \"quoted\" one")]
        for payload in payloads { try await log.append(payload, trail: "t\\1") }
        for sealed in [EventExporter.SealedFields.omit, .hmac(SymmetricKey(size: .bits256))] {
            let exporter = EventExporter(sealed: sealed)
            var direct: [UInt8] = [], viaEvent: [UInt8] = []
            var times = (Timestamp.Writer(), Timestamp.Writer())
            _ = try log.log.replay(from: 1, through: nil, keyring: LogKeyring([log.key])) { view in
                try exporter.appendJSONLine(view.header, body: view.body, to: &direct, times: &times.0)
                try exporter.export(view.header, body: view.body).appendJSONLine(to: &viaEvent, times: &times.1)
            }
            #expect(String(decoding: direct, as: UTF8.self) == String(decoding: viaEvent, as: UTF8.self))
            let lines = String(decoding: direct, as: UTF8.self).split(separator: "\n")
            #expect(lines.count == payloads.count)
            for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) != nil, "\(line)") }
        }
    }

    @Test func actorsAndTrailsWithEscapesSurvive() async throws {
        let events = try await Self.export([NexusStopped(instance: "i", reason: "a \"quoted\" reason\nand a line")],
                                           with: EventExporter(sealed: .omit), actor: "spiffe://spike.ist/ü", trail: "t\\1")
        #expect(events[0].actor == "spiffe://spike.ist/ü" && events[0].trail == "t\\1")
        #expect(try Self.data(events[0])["reason"] as? String == "a \"quoted\" reason\nand a line")
    }

    @Test func aBodyThatIsNotAnEnvelopeIsRefusedByKind() async throws {
        let log = try ReplayTests.Log()
        try await log.log.append(kind: SecretPut.kind.number, body: Array(#"{"actor":"a","data":[1,2"#.utf8))
        try await log.log.append(kind: KeeperPolled.kind.number, body: Array("not json".utf8))
        var failures: [String] = []
        _ = try log.log.replay(from: 1, through: nil, keyring: LogKeyring([log.key])) { view in
            do {
                _ = try EventExporter(sealed: .omit).export(view.header, body: view.body)
            } catch {
                failures.append((error as? EventDecodingError)?.kind ?? "\(error)")
            }
        }
        #expect(failures == ["SecretPut", "KeeperPolled"])
    }

    @Test func everyKindDeclaresItsSealedFieldsOnce() {
        // The kinds that carry key material or secret values, and nothing else.
        let sealed = EventVocabulary.kinds.filter { !EventVocabulary.sealedFields(number: $0.number).isEmpty }.map(\.name)
        #expect(Set(sealed) == ["EpochStarted", "AdminPasswordAdded", "AdminPasswordChanged", "RootKeyRotated", "ShardDistributed", "SecretPut"])
    }
}
