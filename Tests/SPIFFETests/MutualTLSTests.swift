import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing
import X509
@testable import SPIFFE
import SPIFFETLS

/// Real mutual TLS over loopback TCP between the library's server and client, and with OpenSSL.
@Suite struct MutualTLSTests {
    let ca: DevelopmentCA
    let serverID = try! SPIFFEID(parsing: "spiffe://example.org/spike/nexus")
    let clientID = try! SPIFFEID(parsing: "spiffe://example.org/spike/pilot/role/superuser")

    init() throws {
        ca = try DevelopmentCA(trustDomain: TrustDomain(parsing: "example.org"))
    }

    private func source(_ id: SPIFFEID, from ca: DevelopmentCA? = nil) throws -> StaticX509Source {
        let issuer = ca ?? self.ca
        return StaticX509Source(svid: try issuer.issue(id), bundles: X509BundleSet([self.ca.bundle]))
    }

    private func server(authorizing authorizer: Authorizer) async throws -> (GreetingServer, StaticX509Source) {
        let serverSource = try source(serverID)
        return (try await GreetingServer(tls: SPIFFETLS(role: .server, source: serverSource, authorizer: authorizer)), serverSource)
    }

    @Test func bothSidesSeeEachOthersSPIFFEID() async throws {
        let (server, _) = try await server(authorizing: .exactly(clientID))
        let client = try await LineClient(tls: SPIFFETLS(role: .client, source: source(clientID), authorizer: .exactly(serverID)), port: server.port)
        #expect(try await client.nextLine() == "hello \(clientID)")
        #expect(try await client.channel.spiffePeerID().get() == serverID)
        #expect(try await client.channel.nioSSL_tlsVersion().get() == .tlsv13)
        try await client.send("ping\n")
        #expect(try await client.nextLine() == "ping")
        await client.close()
        try await server.stop()
    }

    @Test func unauthorizedClientIsRefusedAtTheHandshake() async throws {
        let (server, _) = try await server(authorizing: .exactly(serverID))  // not the client
        let client = try await LineClient(tls: SPIFFETLS(role: .client, source: source(clientID), authorizer: .any), port: server.port)
        await client.expectHandshakeRefused()
        await client.close()
        try await server.stop()
    }

    @Test func clientRefusesAnUnauthorizedServer() async throws {
        let (server, _) = try await server(authorizing: .any)
        let client = try await LineClient(
            tls: SPIFFETLS(role: .client, source: source(clientID), authorizer: .exactly(try SPIFFEID(parsing: "spiffe://example.org/other"))),
            port: server.port)
        await client.expectHandshakeRefused()
        await client.close()
        try await server.stop()
    }

    @Test func clientOfAnotherTrustDomainIsRefused() async throws {
        let (server, _) = try await server(authorizing: .any)
        let other = try DevelopmentCA(trustDomain: TrustDomain(parsing: "other.org"))
        let foreign = StaticX509Source(svid: try other.issue(SPIFFEID(parsing: "spiffe://other.org/x")), bundles: X509BundleSet([ca.bundle, other.bundle]))
        let client = try await LineClient(tls: SPIFFETLS(role: .client, source: foreign, authorizer: .any), port: server.port)
        await client.expectHandshakeRefused()
        await client.close()
        try await server.stop()
    }

    @Test func expiredClientIsRefused() async throws {
        let (server, _) = try await server(authorizing: .any)
        var template = DevelopmentCA.LeafTemplate(uris: [clientID.description])
        template.notValidBefore = Date() - 7200
        template.notValidAfter = Date() - 3600
        let (certificate, key) = try ca.issue(template)
        // Built without X509SVID's checks, which would refuse nothing here: expiry is the peer's problem.
        let expired = StaticX509Source(svid: try X509SVID(certificates: [certificate], privateKey: key), bundles: X509BundleSet([ca.bundle]))
        let client = try await LineClient(tls: SPIFFETLS(role: .client, source: expired, authorizer: .any), port: server.port)
        await client.expectHandshakeRefused()
        await client.close()
        try await server.stop()
    }

    @Test func clientWithoutCertificateIsRefused() async throws {
        let (server, _) = try await server(authorizing: .any)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        let client = try await LineClient(tls: nil, port: server.port, plainTLS: try NIOSSLContext(configuration: configuration))
        await client.expectHandshakeRefused()
        await client.close()
        try await server.stop()
    }

    /// The peer's chain is validated by an `async` verifier. That work runs on the connection's
    /// event loop, never queued on Swift's cooperative pool, where a handshake would wait for
    /// whatever else holds the pool (it timed out so in a loaded test run): both sides' authorizers,
    /// called at the end of the validation, find themselves on an event loop, the client's on its
    /// connection's own.
    @Test func theChainIsValidatedOnTheConnectionsEventLoop() async throws {
        let loops = Mutex<[String: (any EventLoop)?]>([:])
        let serverSide = Authorizer { id in
            loops.withLock { $0["server"] = MultiThreadedEventLoopGroup.currentEventLoop }
            return id == clientID
        }
        let clientSide = Authorizer { [serverID] id in
            loops.withLock { $0["client"] = MultiThreadedEventLoopGroup.currentEventLoop }
            return id == serverID
        }
        let (server, _) = try await server(authorizing: serverSide)
        let client = try await LineClient(tls: SPIFFETLS(role: .client, source: source(clientID), authorizer: clientSide), port: server.port)
        #expect(try await client.nextLine() == "hello \(clientID)")
        let seen = loops.withLock { $0 }
        #expect(seen["server"].flatMap { $0 } != nil, "the server validated the client's chain off the event loops")
        #expect(seen["client"].flatMap { $0 } === client.channel.eventLoop, "the client validated the server's chain off its connection's loop")
        await client.close()
        try await server.stop()
    }

    @Test func rotationReachesNewHandshakesAndKeepsOpenConnections() async throws {
        let (server, serverSource) = try await server(authorizing: .any)
        let clientTLS = SPIFFETLS(role: .client, source: try source(clientID), authorizer: .exactly(serverID))
        let first = try await LineClient(tls: clientTLS, port: server.port)
        #expect(try await first.nextLine() == "hello \(clientID)")
        let before = try await first.channel.nioSSL_peerCertificate().get()?.toDERBytes()

        serverSource.update(svid: try ca.issue(serverID))
        let second = try await LineClient(tls: clientTLS, port: server.port)
        #expect(try await second.nextLine() == "hello \(clientID)")
        let after = try await second.channel.nioSSL_peerCertificate().get()?.toDERBytes()
        #expect(before != nil && after != nil && before != after, "the new handshake presents the new SVID")

        // The connection made before the rotation still works.
        try await first.send("still here\n")
        #expect(try await first.nextLine() == "still here")
        await first.close()
        await second.close()
        try await server.stop()
    }
}
