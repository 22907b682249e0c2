import Foundation
import Projections
import Testing

/// The audit report's fold over a scripted failure story: what it says, and in what order.
@Suite struct AuditTimelineTests {
    static let minute: Int64 = 60_000_000_000
    static let start: Int64 = 1_796_000_000_000_000_000
    static let keepers = ["https://k1:8443", "https://k2:8443", "https://k3:8443"]

    static func genesis(_ epoch: UInt32) -> EpochStarted {
        EpochStarted(epoch: epoch, shares: 3, threshold: 2, keepers: keepers, epochPublicKey: Data(count: 32), wrappedEpochPrivateKey: Data(count: 60),
                     passwordWraps: [], keyCheckValue: Data(count: 32))
    }

    /// A story: a start and `spike init`, a Keeper restarting empty and being rehydrated, the same
    /// Keeper unreachable for 41 minutes up to a Nexus crash, a new start that stays sealed, three
    /// wrong passwords, a reset, a new epoch; and a workload refused twice.
    static func story() -> AuditReport {
        var timeline = AuditTimeline(logID: "test", head: 99)
        var sequence: UInt64 = 0
        func at(_ minutes: Double, _ payload: any EventPayload, actor: String = "spiffe://spike.ist/spike/nexus") {
            sequence += 1
            let time = start + Int64(minutes * Double(minute))
            timeline.apply(DomainEvent(actor: actor, trail: "t", payload), sequence: sequence, time: time, epoch: 1)
        }
        func ms(_ minutes: Double) -> Int64 { (start + Int64(minutes * Double(minute))) / 1_000_000 }
        func polled(_ keeper: Int, _ outcome: KeeperPollOutcome, from: Double, to: Double, count: Int) -> KeeperPolled {
            KeeperPolled(keeper: keeper, outcome: outcome, count: count, firstAt: ms(from), lastAt: ms(to), maxLatencyMillis: 3)
        }
        at(0, NexusStarted(instance: "a", version: "0.1.0", previousStartCrashed: nil))
        at(0.1, genesis(1), actor: "spiffe://spike.ist/spike/pilot/role/superuser")
        for keeper in 1...3 { at(0.2, polled(keeper, .hasShard, from: 0.2, to: 0.2, count: 1)) }
        at(5, polled(2, .empty, from: 5, to: 5, count: 1))
        at(5.01, KeeperRehydrated(keeper: 2, distribution: 3, reason: .empty))
        at(5.02, polled(2, .hasShard, from: 5.02, to: 19, count: 800))
        at(12, AccessDenied(operation: "secret.get", path: "apps/db", wants: ["read"], at: ms(12)), actor: "spiffe://spike.ist/workload/intruder")
        at(13, AccessDenied(operation: "secret.get", path: "apps/db", wants: ["read"], at: ms(13)), actor: "spiffe://spike.ist/workload/intruder")
        at(20, polled(2, .unreachable, from: 20, to: 61, count: 2460))
        at(61, polled(1, .hasShard, from: 0.3, to: 61, count: 3600))
        // The crash: the next start finds no stop.
        at(70, NexusStarted(instance: "b", version: "0.1.0", previousStartCrashed: 1))
        for attempt in 0..<3 {
            at(71 + Double(attempt), RootKeyRestoreFailed(source: .password, shareIndices: [], reason: "the password does not unwrap the root key", at: ms(71)))
        }
        at(80, NexusStopped(instance: "b", reason: "signal"))
        at(81, SystemReset(epoch: 1, reason: "every Keeper lost, no password"), actor: "spiffe://spike.ist/spike/pilot/role/superuser")
        at(82, NexusStarted(instance: "c", version: "0.1.0", previousStartCrashed: nil))
        at(83, genesis(2), actor: "spiffe://spike.ist/spike/pilot/role/superuser")
        return timeline.finished()
    }

    @Test func theFindingsNameEachIncidentInOrder() throws {
        let report = Self.story()
        let texts = report.findings.map(\.text)
        let expected = [
            "keeper-2 had restarted empty; it was rehydrated at",
            "spiffe://spike.ist/workload/intruder was refused 2 times",
            "The Nexus crashed after",
            "3 wrong passwords between",
            "The Nexus was sealed for 11 min",
            "The system was reset at",
        ]
        #expect(texts.count == expected.count, "\(texts)")
        for (text, start) in zip(texts, expected) { #expect(text.hasPrefix(start), "\(text)") }
        let crash = try #require(texts.first { $0.hasPrefix("The Nexus crashed") })
        #expect(crash.contains("keeper-2 was unreachable for 41 min before the crash"), "\(crash)")
        #expect(texts[3].hasSuffix("before the reset at 2026-11-30 02:14:20Z."), "\(texts[3])")
        #expect(texts[5].contains("\"every Keeper lost, no password\"") && texts[5].contains("Epoch 1 was closed"))
    }

    @Test func theLanesAndSectionsFollowTheStory() {
        let report = Self.story()
        #expect(report.events == 20)
        #expect(report.runs.map(\.end) == [.crashed, .stopped, .running])
        #expect(report.runs[0].endedAt == Timestamp(nanoseconds: Self.start + 61 * Self.minute))
        #expect(report.nexus.map(\.state) == ["uninitialized", "ready", "down", "sealed", "down", "uninitialized", "ready"])
        #expect(report.sealedPeriods.count == 1 && report.sealedPeriods[0].endedBy == "reset")
        #expect(report.epochs.map(\.epoch) == [1, 2] && report.epochs[0].endedBy == "reset" && report.epochs[1].endedAt == nil)
        let keeper2 = report.keepers[1]
        #expect(keeper2.url == "https://k2:8443")
        #expect(keeper2.periods.map(\.state) == ["has-shard", "empty", "has-shard", "unreachable"])
        #expect(keeper2.polls == ["has-shard": 801, "empty": 1, "unreachable": 2460])
        #expect(report.restores.filter { !$0.succeeded }.count == 3)
        #expect(report.denials.first?.requests == ["secret.get apps/db": 2])
    }

    @Test func aRecoveryByPasswordAfterWrongOnesIsToldAsSuch() {
        var timeline = AuditTimeline(logID: "test", head: 9)
        func at(_ minutes: Int64, _ sequence: UInt64, _ payload: any EventPayload) {
            timeline.apply(DomainEvent(actor: "a", trail: "t", payload), sequence: sequence, time: Self.start + minutes * Self.minute, epoch: 1)
        }
        at(0, 1, Self.genesis(1))
        at(1, 2, NexusStarted(instance: "a", version: "v", previousStartCrashed: nil))
        at(2, 3, RootKeyRestoreFailed(source: .password, shareIndices: [], reason: "no"))
        at(3, 4, RootKeyRestored(source: .password, shareIndices: [], admin: "alice"))
        // A data event is counted (it dates the crash) without being decoded.
        timeline.apply(nil, sequence: 5, time: Self.start + 9 * Self.minute, epoch: 1)
        at(10, 6, NexusStarted(instance: "b", version: "v", previousStartCrashed: 2))
        let texts = timeline.finished().findings.map(\.text)
        #expect(texts.count == 3, "\(texts)")
        #expect(texts[0].hasPrefix("1 wrong password at") && texts[0].contains("before the root key was restored from password"))
        #expect(texts[1].hasPrefix("The root key was recovered from admin alice's password") && texts[1].contains("after 2 min sealed"))
        #expect(texts[2].hasPrefix("The Nexus crashed after 2026-11-30 01:02:20Z"), "\(texts[2])")
    }

    @Test func timeBoundsAreRFC3339OrGoDurations() throws {
        let now = try #require(Timestamp(rfc3339: "2026-12-02T10:00:00Z"))
        #expect(try TimeBound.parse("90m", now: now).rfc3339 == "2026-12-02T08:30:00.000000000Z")
        #expect(try TimeBound.parse("1h30m15.5s", now: now).rfc3339 == "2026-12-02T08:29:44.500000000Z")
        #expect(try TimeBound.parse("300ms", now: now).rfc3339 == "2026-12-02T09:59:59.700000000Z")
        #expect(try TimeBound.parse("2026-12-01T23:00:00+02:00", now: now).rfc3339 == "2026-12-01T21:00:00.000000000Z")
        #expect(try TimeBound.parse("2026-12-01T21:00:00.123456789Z", now: now).nanoseconds % 1_000_000_000 == 123_456_789)
        #expect(throws: FilterError.badTime("2d")) { try TimeBound.parse("2d", now: now) }
        #expect(throws: FilterError.badTime("yesterday")) { try TimeBound.parse("yesterday", now: now) }
        #expect(Timestamp(nanoseconds: -1).rfc3339 == "1969-12-31T23:59:59.999999999Z")
        #expect(throws: FilterError.self) { try EventFilter.kinds(named: ["KeeperPolled", "Nope"]) }
        #expect(try EventFilter.kinds(named: ["KeeperPolled", "SystemReset"]) == [21, 9])
    }

    /// A rollback found by a witnessed head, then an operator's acceptance: both findings, in order.
    @Test func aRollbackAndItsAcceptanceAreFindings() {
        var timeline = AuditTimeline(logID: "test", head: 9)
        timeline.apply(DomainEvent(actor: "spiffe://spike.ist/spike/nexus", trail: "t", NexusStarted(instance: "a", version: "v", previousStartCrashed: nil)),
                       sequence: 1, time: Self.start, epoch: 1)
        timeline.apply(DomainEvent(actor: "spiffe://spike.ist/spike/nexus", trail: "t",
                                   RollbackDetected(finding: .behind, keeper: 2, logSequence: 40, logLink: "aa", witnessedSequence: 55,
                                                    witnessedLink: "bb", at: 0)), sequence: 41, time: Self.start + Self.minute, epoch: 1)
        timeline.apply(DomainEvent(actor: "host:op@h", trail: "accept-log-head",
                                   LogHeadAccepted(logSequence: 43, logLink: "cc", witnessedSequence: 55, witnessedLink: "bb",
                                                   acceptedBy: "host:op@h", at: 0)), sequence: 44, time: Self.start + 2 * Self.minute, epoch: 1)
        let texts = timeline.finished().findings.map(\.text)
        let rollback = texts.firstIndex { $0.hasPrefix("The log was rolled back") && $0.contains("ends at 40, before the head 55 Keeper 2 had witnessed") }
        let accepted = texts.firstIndex { $0.hasPrefix("host:op@h accepted the log's head 43") && $0.contains("over the head 55") }
        #expect(rollback != nil && accepted != nil && rollback! < accepted!, "\(texts)")
    }
}

extension AuditTimelineTests {
    /// Two replicas on one log: a start of one is not the other's crash, each has its lane, and
    /// the system's lane is down only while neither runs.
    @Test func eachReplicaHasItsLaneAndItsOwnCrashes() throws {
        var timeline = AuditTimeline(logID: "test", head: 9)
        var sequence: UInt64 = 0
        func at(_ minutes: Double, _ payload: any EventPayload, by instance: String = "t") {
            sequence += 1
            timeline.apply(DomainEvent(actor: "spiffe://spike.ist/spike/nexus", trail: instance, payload), sequence: sequence,
                           time: Self.start + Int64(minutes * Double(Self.minute)), epoch: 1)
        }
        at(0, NexusStarted(instance: "a1", version: "v", previousStartCrashed: nil, replica: "nexus"))
        at(0.1, Self.genesis(1))
        at(1, NexusStarted(instance: "b1", version: "v", previousStartCrashed: nil, replica: "nexus-2"))
        at(2, RootKeyRestored(source: .keepers, shareIndices: [1, 2]))
        // nexus-2 is SIGKILLed after its poll summary at 3 and started again at 5; nexus runs on,
        // writing at 4 (the crash is placed at nexus-2's last event, not at the log's).
        at(3, KeeperPolled(keeper: 1, outcome: .hasShard, count: 1, firstAt: 0, lastAt: 0, maxLatencyMillis: 1), by: "b1")
        at(4, KeeperPolled(keeper: 2, outcome: .hasShard, count: 1, firstAt: 0, lastAt: 0, maxLatencyMillis: 1), by: "a1")
        at(5, NexusStarted(instance: "b2", version: "v", previousStartCrashed: 3, replica: "nexus-2"))
        at(6, NexusStopped(instance: "a1", reason: "signal"))
        at(7, NexusStopped(instance: "b2", reason: "signal"))
        let report = timeline.finished()
        #expect(report.runs.map(\.end) == [.stopped, .crashed, .stopped])
        #expect(report.runs[1].endedAt == Timestamp(nanoseconds: Self.start + 3 * Self.minute))
        #expect(report.runs.map(\.replica) == ["nexus", "nexus-2", "nexus-2"])
        #expect(report.replicas.map(\.replica) == ["nexus", "nexus-2"])
        #expect(report.replicas[1].periods.map(\.state) == ["running", "down", "running", "down"])
        #expect(report.replicas[0].periods.map(\.state) == ["running", "down"])
        // The system was down only after both stopped.
        #expect(report.nexus.map(\.state) == ["uninitialized", "ready", "down"])
        let crashes = report.findings.filter { $0.text.contains("crashed") }.map(\.text)
        #expect(crashes.count == 1 && crashes[0].hasPrefix("Nexus replica nexus-2 crashed after"), "\(crashes)")
    }
}
