import EventLog
import Foundation
import NexusCore
import Nodes
import Projections
import Testing

/// Conformance table C3 (secret versioning) of `conformance-public.md` and the fixes of
/// reference §13, through the real store: every write is an event in a real LMDB log, and the
/// log replays to the same state.
@Suite struct SecretVersioningTests {
    func versions(_ count: Int) -> [[String: String]] { (1...count).map { ["version": "v\($0)"] } }

    @Test func putAndGetVersions() async throws {
        let h = try StoreHarness()
        try await awaitingCleanup({ await h.remove() }) {
            // 1, 2, 11, 15
            #expect(await h.put("a", ["username": "admin", "password": "secret123"]) == .done)
            #expect(h.get("a") == ["username": "admin", "password": "secret123"])
            #expect(h.store.metadata("a", version: 0).map { [$0.currentVersion, $0.oldestVersion, $0.versions.count] } == [1, 1, 1])
            await h.put("b", ["key1": "value1"])
            await h.put("b", ["key1": "updated_value1", "key2": "value2"])
            #expect(h.get("b") == ["key1": "updated_value1", "key2": "value2"])
            #expect(h.get("b", 1) == ["key1": "value1"])
            let b = try #require(h.store.metadata("b", version: 0))
            #expect(b.currentVersion == 2 && b.oldestVersion == 1 && b.versions.count == 2)
            for n in 1...3 { await h.put("c", ["version": "v\(n)", "data": "data-\(n)"]) }
            for n in 1...3 { #expect(h.get("c", n) == ["version": "v\(n)", "data": "data-\(n)"]) }
            // 12, 13, 17, 18
            #expect(h.get("missing", 1) == nil)
            #expect(h.get("a", 999) == nil)
            await h.put("e", [:])
            #expect(h.get("e") == [:])
            await h.put("e", [:])
            #expect(h.get("e") == [:] && h.store.metadata("e", version: 0)?.currentVersion == 2)
        }
    }

    @Test func maxVersionsPrunesForGood() async throws {
        let h = try StoreHarness(maxVersions: 3)
        try await awaitingCleanup({ await h.remove() }) {
            for values in versions(5) { await h.put("a", values) }
            let entry = try #require(h.store.metadata("a", version: 0))
            #expect(entry.versions.keys.sorted() == [3, 4, 5] && entry.oldestVersion == 3 && entry.currentVersion == 5)
            #expect(h.get("a", 1) == nil && h.get("a", 2) == nil)
            for n in 3...5 { #expect(h.get("a", n) == ["version": "v\(n)"]) }
            // Pruned versions' keys left the key table with the put that pruned them.
            #expect(try h.log.keyTable().count == 3)
            let projections = try await h.reopen()
            #expect(projections.data.secrets["a"]?.versions.keys.sorted() == [3, 4, 5])
            #expect(h.get("a", 4) == ["version": "v4"])
        }
    }

    @Test func deleteAndUndelete() async throws {
        let h = try StoreHarness()
        try await awaitingCleanup({ await h.remove() }) {
            // 4: delete current
            for values in versions(3) { await h.put("a", values) }
            #expect(await h.delete("a", [0]) == .done)
            #expect(h.store.metadata("a", version: 2)?.currentVersion == 2)
            #expect(h.store.metadata("a", version: 2)?.versions[3]?.deletedAt != nil)
            #expect(h.get("a") == ["version": "v2"])
            // 5: delete others, current stays
            for values in versions(4) { await h.put("b", values) }
            await h.delete("b", [1, 3])
            #expect(h.store.metadata("b", version: 0)?.currentVersion == 4)
            #expect(h.get("b", 2) == ["version": "v2"] && h.get("b", 4) == ["version": "v4"] && h.get("b", 1) == nil)
            // 6, 16: delete all → no current, metadata gated, versions kept
            for values in versions(3) { await h.put("c", values) }
            await h.delete("c", [1, 2, 3])
            #expect(h.store.metadata("c", version: 0) == nil && h.get("c") == nil)
            #expect(h.store.secretPaths().contains("c"))
            // 7, 10: missing paths
            #expect(await h.delete("missing", [1]) == .notFound)
            #expect(await h.undelete("missing", [1]) == .notFound)
            // 8: undelete one
            for values in versions(3) { await h.put("d", values) }
            await h.delete("d", [1, 2])
            #expect(await h.undelete("d", [1]) == .done)
            #expect(h.get("d", 1) == ["version": "v1"] && h.get("d", 2) == nil && h.get("d") == ["version": "v3"])
            // 9: undelete with no versions restores the newest deleted one
            #expect(await h.undelete("c", []) == .done)
            #expect(h.get("c") == ["version": "v3"] && h.store.metadata("c", version: 0)?.currentVersion == 3)
            // §13.7: undelete with no versions after deleting the newest restores it (SPIKE: 404).
            await h.delete("d", [])
            #expect(h.get("d") == ["version": "v1"])
            #expect(await h.undelete("d", []) == .done)
            #expect(h.get("d") == ["version": "v3"])
            // Nothing deleted: 404.
            #expect(await h.undelete("d", [3]) == .notFound)
        }
    }

    @Test func aPutAfterDeletingTheNewestGetsANewNumber() async throws {
        let h = try StoreHarness()
        try await awaitingCleanup({ await h.remove() }) {
            for values in versions(3) { await h.put("a", values) }
            await h.delete("a", [3])
            await h.put("a", ["version": "v4"])
            let entry = try #require(h.store.metadata("a", version: 0))
            #expect(entry.currentVersion == 4 && entry.versions[3]?.deletedAt != nil)
            #expect(await h.undelete("a", [3]) == .done)
            #expect(h.get("a", 3) == ["version": "v3"] && h.get("a") == ["version": "v4"])
        }
    }

    @Test func destroyShredsTheVersionKeyAndTheLogStaysAppendOnly() async throws {
        let h = try StoreHarness()
        try await awaitingCleanup({ await h.remove() }) {
            await h.put("a", ["password": "first-secret-value"])
            await h.put("a", ["password": "second-secret-value"])
            let keysBefore = try h.log.keyTable().count
            let eventsBefore = try #require(try h.log.head()).sequence
            #expect(await h.destroy("a", [1]) == .done)
            #expect(h.get("a", 1) == nil && h.get("a") == ["password": "second-secret-value"])
            #expect(try h.log.keyTable().count == keysBefore - 1)
            #expect(try #require(try h.log.head()).sequence == eventsBefore + 1)
            #expect(await h.undelete("a", [1]) == .notFound)
            #expect(await h.destroy("a", [1]) == .notFound)
            // The SecretPut of version 1 is still in the log, its value sealed under a key that no
            // longer exists anywhere: a restarted store cannot read it either.
            #expect(try h.bodies().filter { $0.kind == SecretPut.kind.number }.count == 2)
            let projections = try await h.reopen()
            #expect(projections.data.secrets["a"]?.versions[1]?.destroyed == true)
            #expect(h.get("a", 1) == nil && h.get("a", 2) == ["password": "second-secret-value"])
            // Destroying the current version leaves no live version.
            #expect(await h.destroy("a", []) == .done)
            #expect(h.get("a") == nil && h.store.metadata("a", version: 0) == nil)
        }
    }

    @Test func checkAndSet() async throws {
        let h = try StoreHarness()
        try await awaitingCleanup({ await h.remove() }) {
            #expect(await h.put("a", ["k": "1"], cas: 1) == .versionMismatch(current: 0))
            #expect(await h.put("a", ["k": "1"], cas: 0) == .done)
            #expect(await h.put("a", ["k": "2"], cas: 0) == .versionMismatch(current: 1))
            #expect(await h.put("a", ["k": "2"], cas: 1) == .done)
            #expect(h.get("a") == ["k": "2"])
        }
    }

    @Test func valuesRoundTripAndNeverAppearInTheLog() async throws {
        let h = try StoreHarness()
        try await awaitingCleanup({ await h.remove() }) {
            // 19, 20
            let many = Dictionary(uniqueKeysWithValues: (0..<100).map { (String(format: "key_%03d", $0), String(format: "value_%03d_with_some_longer_content_to_make_it_bigger", $0)) })
            await h.put("many", many)
            #expect(h.get("many") == many)
            let special = ["unicode": "üñíçödé 中文", "symbols": #"!@#$%^&*()_+-=[]{}|;:'",.<>?"#, "newline": "a\nb", "tab": "a\tb", "quotes": #""q""#]
            for path in ["/test/special-chars", "/test/with spaces", "/test/with.dots", "/test/with_underscores", "/test/with-dashes",
                         "/test/with/deep/nested/pathPattern"] {
                await h.put(path, special)
                #expect(h.get(path) == special, "\(path)")
            }
            let everything = try h.bodies().map(\.body).joined()
            for value in many.values.prefix(5) + ["üñíçödé", "value_042"] { #expect(!everything.contains(value)) }
            // The restarted store folds the same state and opens the same values.
            let before = h.store.metadata("many", version: 0)
            _ = try await h.reopen()
            #expect(h.store.metadata("many", version: 0) == before)
            #expect(h.get("/test/with spaces") == special)
        }
    }

    @Test func concurrentWritesAreGroupCommitted() async throws {
        let h = try StoreHarness(maxVersions: 1000)
        try await awaitingCleanup({ await h.remove() }) {
            let before = h.log.statistics.transactions
            let outcomes = await withTaskGroup(of: DataOutcome.self) { group in
                for n in 0..<300 { group.addTask { await h.put("shared", ["n": "\(n)"]) } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { $0 == .done })
            let entry = try #require(h.store.metadata("shared", version: 0))
            #expect(entry.versions.keys.sorted() == Array(1...300))
            let transactions = h.log.statistics.transactions - before
            #expect(transactions < 300, "\(transactions) transactions for 300 concurrent puts")
        }
    }

    @Test func aWriteTheLogRefusesChangesNothing() async throws {
        let h = try StoreHarness()
        try await awaitingCleanup({ await h.remove() }) {
            await h.put("a", ["k": "1"])
            h.log.close()
            let outcomes = await withTaskGroup(of: DataOutcome.self) { group in
                group.addTask { await h.put("a", ["k": "2"]) }
                group.addTask { await h.delete("a", []) }
                group.addTask { await h.put("b", ["k": "1"]) }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { if case .failed = $0 { true } else { false } }, "\(outcomes)")
            #expect(h.get("a") == ["k": "1"] && h.get("b") == nil)
            #expect(h.store.metadata("a", version: 0)?.currentVersion == 1)
        }
    }

    @Test func writesBeforeUnlockAreRefused() async throws {
        let h = try StoreHarness()
        try await awaitingCleanup({ await h.remove() }) {
            let locked = NexusStore(log: h.log, keyring: LogKeyring([]), projections: NexusProjections(), versionKeys: [:], maxVersions: 10)
            #expect(try locked.seal([:], path: "a") == nil)
            let sealed = try #require(try h.store.seal([:], path: "a"))
            #expect(await locked.write(.putSecret(path: "a", sealed: sealed, cas: nil), actor: "x", trail: "t") == .notReady)
            #expect(locked.secret("a", version: 0) == .notReady)
            await locked.stop()
        }
    }
}
