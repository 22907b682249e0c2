import Crypto
import EventLog
import Foundation
import NexusCore
import NIOHTTP1
import Nodes
import Projections
import SPIFFE
import SPIFFETLS
import SpikeAPI
import SpikeClient
import Synchronization
import Testing

/// One Keeper and one Nexus over real mutual TLS on loopback (ports picked by the kernel), with
/// SVIDs from a development CA for any SPIFFE ID a test wants to act as.
final class NexusHarness: Sendable {
    let ca: DevelopmentCA
    let roles: SpikeRoles
    let keeper: HTTPServer
    let keeperService: KeeperService
    let nexus: NexusServer
    var node: NexusNode { nexus.node }
    let directory: String
    private let nexusStopped = Mutex(false)
    var url: String { "https://127.0.0.1:\(nexus.port)" }

    /// A new system, or with `previous` (whose Nexus is stopped) a new Nexus process on the same
    /// data directory and Keeper: a restart; with `emptyKeeper`, a new Keeper too (the old one and
    /// its share lost).
    init(environment: [String: String] = [:], continuing previous: NexusHarness? = nil, emptyKeeper: Bool = false,
         acceptLogHead: UInt64? = nil, directory chosen: String? = nil) async throws {
        ca = try previous?.ca ?? DevelopmentCA(trustDomain: TrustDomain(parsing: "spike.ist"))
        roles = try SpikeRoles(environment: environment)
        let ca = self.ca
        func source(_ path: String) throws -> StaticX509Source {
            StaticX509Source(svid: try ca.issue(SPIFFEID(parsing: "spiffe://spike.ist" + path)), bundles: X509BundleSet([ca.bundle]))
        }
        if let previous, !emptyKeeper {
            keeper = previous.keeper
            keeperService = previous.keeperService
            directory = previous.directory
        } else {
            let keeperService = KeeperService(roles: roles)
            self.keeperService = keeperService
            keeper = try await HTTPServer.start(host: "127.0.0.1", port: 0,
                                                tls: SPIFFETLS(role: .server, source: try source("/spike/keeper"),
                                                               authorizer: keeperService.connectionAuthorizer),
                                                limits: KeeperService.limits, service: keeperService)
            directory = previous?.directory ?? chosen ?? NSTemporaryDirectory() + "spike-nexus-\(UUID().uuidString)"
        }
        var configuration = NexusConfiguration(listen: ("127.0.0.1", 0), keepers: ["https://127.0.0.1:\(keeper.port)"], shares: 1,
                                               threshold: 1, pollInterval: .milliseconds(200), dataDirectory: directory)
        configuration.maxSecretVersions = Int(environment["SPIKE_NEXUS_MAX_SECRET_VERSIONS"] ?? "") ?? 10
        configuration.maxCipherSize = Int(environment["SPIKE_NEXUS_CRYPTO_MAX_CIPHERTEXT_SIZE"] ?? "") ?? 65536
        // Loaded test machines take longer than 160 ms for a handshake now and then.
        configuration.keeperTimeout = .seconds(2)
        // The handshake deadline as long as the clients' timeout: a tolerance for a loaded test
        // machine (the deadline itself is tested in HTTPServerLimitsTests).
        configuration.handshakeTimeout = .seconds(30)
        configuration.passwordCost = .testing
        // A refusal within the wait after five wrong passwords must be seen on a loaded machine.
        configuration.firstPasswordWait = .seconds(5)
        if let every = environment["SPIKE_NEXUS_SNAPSHOT_EVERY"].flatMap(UInt64.init) {
            configuration.snapshots = every == 0 ? nil : SnapshotPolicy(everyEvents: every)
        }
        configuration.acceptLogHead = acceptLogHead
        configuration.logHeadAcceptedBy = "host:test-operator@test"
        nexus = try await NexusServer.start(configuration: configuration, source: try source("/spike/nexus"), roles: roles,
                                            nexusID: "spiffe://spike.ist/spike/nexus")
    }

    /// Waits until the lifecycle loop has folded the log and published its first status (its
    /// start recorded). Not a speed test: the whole suite starts at once on two cores.
    func waitUntilStarted() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while node.status.reason == NexusStatus.starting.reason {
            guard ContinuousClock.now < deadline else {
                Issue.record("the Nexus did not publish a status in 30 s")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// A client acting as `spiffe://spike.ist<path>`.
    func client(_ path: String) throws -> HTTPClient {
        let source = StaticX509Source(svid: try ca.issue(SPIFFEID(parsing: "spiffe://spike.ist" + path)), bundles: X509BundleSet([ca.bundle]))
        // A tolerance, not an assertion: a loaded two-core machine running every suite at once
        // takes seconds for an fsync now and then.
        return HTTPClient(tls: SPIFFETLS(role: .client, source: source, authorizer: roles.authorizer(.nexus)), timeout: .seconds(30))
    }

    static let password = "correct horse battery"

    /// Initializes the system as the superuser (a cheap scrypt cost: this is a test).
    func initialize() async throws {
        try await waitUntilStarted()
        try await node.initialize(password: Self.password, actor: "spiffe://spike.ist/spike/pilot/role/superuser",
                                  trail: "test", cost: .testing)
        #expect(node.status.ready)
        // `spike init` answers once threshold Keepers (here the one) hold their shares.
        #expect(keeperService.holdsShare)
    }

    /// POSTs `body` to `path` as `client`; returns the status code and the body as text.
    func post(_ client: HTTPClient, _ path: String, _ body: String, contentType: String = "application/json") async throws -> (Int, String) {
        let response = try await client.post(url, path: path, body: Array(body.utf8), contentType: contentType)
        return (Int(response.status.code), String(decoding: response.body, as: UTF8.self))
    }

    /// The root key, as an admin gets it back: the genesis in the log, opened with the password.
    func rootKey() throws -> RootKey {
        let key = try LogKeyFile.readPrivateKey(at: directory + "/audit-key.pem")
        let genesis = try #require(try NexusProjections.replay(node.log, keyring: LogKeyring([key])).lifecycle.genesis)
        return try genesis.passwordWraps[0].unwrap(password: Self.password, epoch: genesis.epoch)
    }

    /// A body for `/v1/bootstrap/verify`: `plaintext` encrypted with R, as SPIKE's Bootstrap does.
    func bootstrapProof(_ plaintext: Data) throws -> String {
        let sealed = try AES.GCM.seal(plaintext, using: SymmetricKey(data: try rootKey().copyBytes()))
        return #"{"nonce":"\#(Data(sealed.nonce).base64EncodedString())","ciphertext":"\#((sealed.ciphertext + sealed.tag).base64EncodedString())"}"#
    }

    /// The log's events, decrypted with the Nexus' audit key.
    func events() throws -> [DomainEvent] {
        let key = try LogKeyFile.readPrivateKey(at: directory + "/audit-key.pem")
        var events: [DomainEvent] = []
        _ = try node.log.replay(from: 1, through: nil, keyring: LogKeyring([key])) { view in
            if let event = try DomainEvent.decode(kind: view.kind, body: view.body) { events.append(event) }
        }
        return events
    }

    /// Stops the Nexus alone (a clean stop), leaving the Keeper and the data directory.
    func stopNexus() async {
        guard nexusStopped.withLock({ stopped in defer { stopped = true }; return !stopped }) else { return }
        await nexus.stop(reason: "test")
    }

    /// Waits until the Nexus serves (the root key back and the log found authentic and witnessed);
    /// a test that expects it to serve then checks `status.ready`.
    func waitUntilServing() async throws {
        try await waitUntilUnsealed()
        let deadline = ContinuousClock.now + .seconds(10)
        while !node.status.ready, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
    }

    /// Waits until the lifecycle has the root key (whatever the store then decided).
    func waitUntilUnsealed() async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while node.status.state != .ready {
            guard ContinuousClock.now < deadline else {
                Issue.record("the Nexus did not unseal in 20 s: \(node.status)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func stop() async {
        await stopNexus()
        await keeper.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
