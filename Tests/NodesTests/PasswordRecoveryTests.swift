import EventLog
import Foundation
import NexusCore
import NIOHTTP1
import Nodes
import Projections
import SpikeAPI
import SpikeClient
import Testing

/// `POST /v1/operator/recover?action=password` as callers meet it over mutual TLS: a Nexus whose
/// only Keeper was replaced by an empty one stays sealed; only the recover role may offer a
/// password (a superuser's attempt is refused); wrong passwords are refused and
/// recorded, and past five they are spaced out, also after a restart; the right one restores
/// and re-seeds the Keeper.
@Suite struct PasswordRecoveryTests {
    static let recover = "/spike/pilot/role/recover"
    static let route = "/v1/operator/recover?action=password"

    static func body(_ password: String) -> String { #"{"password":"\#(password)"}"# }

    @Test func onlyTheRightPasswordOfferedByTheRecoverRoleRestores() async throws {
        let first = try await NexusHarness()
        try await awaitingCleanup({ await first.stop() }) {
            try await first.initialize()
            #expect(try await first.post(try first.client("/spike/pilot/role/superuser"), "/v1/store/secrets",
                                         #"{"path":"apps/db","values":{"k":"v"}}"#).0 == 200)
            // A ready Nexus has nothing to recover.
            let recoverer = try first.client(Self.recover)
            #expect(try await first.post(recoverer, Self.route, Self.body(NexusHarness.password)) == (409, #"{"err":"state_not_sealed"}"#))
            await first.stopNexus()

            var sealed = try await NexusHarness(continuing: first, emptyKeeper: true)
            try await awaitingCleanup({ await sealed.stop() }) {
                try await sealed.waitUntilStarted()
                #expect(sealed.node.status.state == .sealed)
                let recoverer = try sealed.client(Self.recover)
                // The superuser may not recover; the refusal is recorded though the data store is
                // locked (the lifecycle appends it).
                let superuser = try sealed.client("/spike/pilot/role/superuser")
                #expect(try await sealed.post(superuser, Self.route, Self.body(NexusHarness.password)) == (401, #"{"err":"access_unauthorized"}"#))
                let recorded = ContinuousClock.now + .seconds(5)
                while try !sealed.events().contains(where: { ($0.payload as? AccessDenied)?.operation == "operator.recover.password" }),
                      ContinuousClock.now < recorded {
                    try await Task.sleep(for: .milliseconds(20))
                }
                let denial = try #require(try sealed.events().last { $0.payload is AccessDenied })
                #expect((denial.payload as? AccessDenied)?.operation == "operator.recover.password"
                        && denial.actor == "spiffe://spike.ist/spike/pilot/role/superuser")
                #expect(try sealed.events().compactMap { $0.payload as? RootKeyRestoreFailed }.isEmpty, "a refused caller's password is not tried")
                // Five wrong passwords are refused at once; the sixth attempt must wait. All on one
                // kept-alive connection, so that a loaded machine's handshakes do not make the
                // sixth come after the one-second wait it is to be refused within.
                let tooSoon = try await recoverer.withConnection(sealed.url) { session in
                    for attempt in 1...NexusLifecycle.freePasswordAttempts {
                        let answer = try await session.post(Self.route, body: Array(Self.body("wrong password \(attempt)").utf8))
                        #expect(answer.status.code == 403 && String(decoding: answer.body, as: UTF8.self) == #"{"err":"password_incorrect"}"#)
                    }
                    return try await session.post(Self.route, body: Array(Self.body(NexusHarness.password).utf8))
                }
                let retryAfter = tooSoon.headers.first(name: "Retry-After").flatMap(Int.init) ?? 0
                #expect(tooSoon.status.code == 429 && (1...5).contains(retryAfter), "\(tooSoon.status) Retry-After \(retryAfter)")
                // The back-off is in the log: a restarted Nexus keeps it.
                await sealed.stopNexus()
                sealed = try await NexusHarness(continuing: sealed)
                try await sealed.waitUntilStarted()
                #expect(sealed.node.status.state == .sealed)
                let failures = try sealed.events().compactMap { $0.payload as? RootKeyRestoreFailed }.filter { $0.source == .password }
                #expect(failures.count == NexusLifecycle.freePasswordAttempts)
                let recoverer2 = try sealed.client(Self.recover)
                var answer = try await sealed.post(recoverer2, Self.route, Self.body(NexusHarness.password))
                if answer.0 == 429 {
                    try await Task.sleep(for: .milliseconds(5100))
                    answer = try await sealed.post(recoverer2, Self.route, Self.body(NexusHarness.password))
                }
                #expect(answer == (200, #"{"admin":"spiffe://spike.ist/spike/pilot/role/superuser"}"#))
                #expect(sealed.node.status.ready)
                #expect(try await sealed.post(try sealed.client("/spike/pilot/role/superuser"), "/v1/store/secrets?action=get",
                                              #"{"path":"apps/db"}"#) == (200, #"{"data":{"k":"v"}}"#))
                // The empty Keeper is sent its share again.
                let deadline = ContinuousClock.now + .seconds(10)
                while !sealed.keeperService.holdsShare, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
                #expect(sealed.keeperService.holdsShare)
            }
        }
    }
}
