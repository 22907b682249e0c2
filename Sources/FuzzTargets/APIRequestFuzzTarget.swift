import Crypto
import EventLog
import Foundation
import NIOCore
import NIOHTTP1
import NexusCore
import Nodes
import Projections
import SPIFFE
import SpikeAPI

/// The Nexus' data API as a request reaches it once mutual TLS has named the caller: the URI
/// (path and `?action=` query, percent-decoding included) and the JSON body, through the
/// production router and handlers, over a real log and an unlocked store. The input chooses the
/// caller (byte 0: superuser, lite workload, a workload with a policy on `apps/`, a stranger),
/// the route (byte 1; 0xF0 and above: the URI is the input up to the first newline), and the
/// rest is the body. What must hold: never a 500; every answer is one JSON object; a stranger
/// is never served; the lite workload only by the cipher; the workload on `apps/` paths only.
public final class APIRequestFuzzTarget: FuzzTarget, @unchecked Sendable {
    public static let name = "api-request"

    static let superuser = try! SPIFFEID(parsing: "spiffe://spike.ist/spike/pilot/role/superuser")
    static let lite = try! SPIFFEID(parsing: "spiffe://spike.ist/spike/workload/role/lite")
    static let workload = try! SPIFFEID(parsing: "spiffe://spike.ist/workload/app")
    static let stranger = try! SPIFFEID(parsing: "spiffe://evil.example/spike/pilot/role/superuser")
    private static let peers = [superuser, lite, workload, stranger]

    private let directory: String
    private var log: EventLog
    private var store: NexusStore
    private var router: HTTPRouter
    /// Inputs since the log was made: it is made anew every `inputsPerLog`, so that a long run
    /// does not fill the memory file system.
    private var inputs = 0
    private static let inputsPerLog = 20_000

    public init() throws {
        directory = try scratchDirectory(Self.name)
        (log, store, router) = try Self.makeNexus(in: directory)
    }

    deinit {
        log.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func makeNexus(in directory: String) throws -> (EventLog, NexusStore, HTTPRouter) {
        let path = (directory as NSString).appendingPathComponent("log")
        try? FileManager.default.removeItem(atPath: path)
        let log = try EventLog.open(directory: path)
        log.setRecipients([LogRecipient(Curve25519.KeyAgreement.PrivateKey().publicKey)], epoch: 1)
        let store = NexusStore(log: log, keyring: LogKeyring([]), projections: NexusProjections(), versionKeys: [:], maxVersions: 4)
        try store.unlock(rootKey: RootKey.generate(), epoch: 1)
        var router = HTTPRouter()
        DataAPI(store: store, roles: SpikeRoles(trustRoots: Dictionary(uniqueKeysWithValues: SpikeRoles.Role.allCases.map { ($0, [try! TrustDomain(parsing: "spike.ist")]) })))
            .addRoutes(to: &router, through: [])
        let setup: [(APIRoute, String)] = [
            (.policyPut, #"{"name":"app","spiffeidPattern":"^spiffe://spike\\.ist/workload/app$","pathPattern":"^apps/","permissions":["read","write","list"]}"#),
            (.secretPut, #"{"path":"apps/db","values":{"user":"spike","password":"s3cr3t"}}"#),
            (.secretPut, #"{"path":"other/db","values":{"password":"elsewhere"}}"#),
        ]
        for (route, body) in setup {
            let response = Self.respond(router, peer: superuser, uri: Self.uri(of: route), body: Array(body.utf8))
            guard response.status == .ok else { throw FuzzFinding(name, "setting up: \(route) answered \(response.status.code)") }
        }
        return (log, store, router)
    }

    public func run(_ input: [UInt8]) throws(FuzzFinding) {
        guard input.count >= 2 else { return }
        inputs += 1
        if inputs % Self.inputsPerLog == 0 {
            runBlocking { [store] in await store.stop() }
            log.close()
            do { (log, store, router) = try Self.makeNexus(in: directory) } catch { throw FuzzFinding(Self.name, "remaking the log: \(error)") }
        }
        let peer = Self.peers[Int(input[0]) % Self.peers.count]
        let uri: String
        let body: [UInt8]
        if input[1] >= 0xF0 {
            let rest = input[2...]
            let newline = rest.firstIndex(of: UInt8(ascii: "\n")) ?? rest.endIndex
            uri = String(decoding: rest[..<newline], as: UTF8.self)
            body = newline < rest.endIndex ? Array(rest[(newline + 1)...]) : []
        } else {
            uri = Self.uri(of: APIRoute.data[Int(input[1]) % APIRoute.data.count])
            body = Array(input[2...])
        }
        let response = Self.respond(router, peer: peer, uri: uri, body: body)
        let status = response.status.code
        guard status != 500 else { throw FuzzFinding(Self.name, "answered 500 to \(uri)") }
        guard status < 500 || status == 507 else { throw FuzzFinding(Self.name, "answered \(status) to \(uri)") }
        guard (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) is [String: Any] else {
            throw FuzzFinding(Self.name, "answered \(status) to \(uri) with a body that is not a JSON object")
        }
        guard (200..<300).contains(status) else { return }
        if peer == Self.stranger { throw FuzzFinding(Self.name, "served a stranger \(status) on \(uri)") }
        if peer == Self.lite, Self.route(uri)?.isCipher != true {
            throw FuzzFinding(Self.name, "served the lite workload \(status) outside the cipher on \(uri)")
        }
        if peer == Self.workload, let route = Self.route(uri), Self.secretRoutes.contains(route),
           let requested = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
           let path = requested["path"] as? String, !path.hasPrefix("apps/") {
            throw FuzzFinding(Self.name, "served the workload \(status) on \(route) of a path outside apps/")
        }
    }

    private static let secretRoutes: Set<APIRoute> = [.secretPut, .secretGet, .secretDelete, .secretUndelete, .secretDestroy, .secretMetadata]

    private static func uri(of route: APIRoute) -> String {
        route.action.isEmpty ? route.path : route.path + "?action=" + route.action
    }

    private static func route(_ uri: String) -> APIRoute? {
        let request = HTTPRequest(method: .POST, uri: uri, peer: stranger)
        return request.route(at: request.path)
    }

    private static func respond(_ router: HTTPRouter, peer: SPIFFEID, uri: String, body: [UInt8]) -> HTTPResponse {
        let request = HTTPRequest(method: .POST, uri: uri, body: ByteBuffer(bytes: body), peer: peer)
        return runBlocking { await router.respond(to: request) }
    }

    /// Each data route with the body its example in the API document has.
    public static func seeds() -> [[UInt8]] {
        let bodies: [APIRoute: String] = [
            .secretPut: #"{"path":"apps/web","values":{"k":"v"}}"#, .secretGet: #"{"path":"apps/db","version":0}"#,
            .secretDelete: #"{"path":"apps/db","versions":[]}"#, .secretUndelete: #"{"path":"apps/db","versions":[1]}"#,
            .secretDestroy: #"{"path":"other/db","versions":[1]}"#, .secretList: "{}", .secretMetadata: #"{"path":"apps/db"}"#,
            .policyPut: #"{"name":"w","spiffeidPattern":"^spiffe://spike\\.ist/w$","pathPattern":"^w/.*$","permissions":["read"]}"#,
            .policyGet: #"{"id":"app"}"#, .policyDelete: #"{"id":"w"}"#, .policyList: "{}",
            .encrypt: #"{"plaintext":"aGVsbG8="}"#, .decrypt: #"{"version":1,"nonce":"AAAAAAAAAAAAAAAA","ciphertext":"AAAAAAAAAAAAAAAAAAAAAA=="}"#,
            .bootstrapVerify: #"{"nonce":"AAAAAAAAAAAAAAAA","ciphertext":"AAAAAAAAAAAAAAAAAAAAAA=="}"#,
        ]
        var seeds: [[UInt8]] = []
        for (index, route) in APIRoute.data.enumerated() {
            for peer in 0..<peers.count { seeds.append([UInt8(peer), UInt8(index)] + Array((bodies[route] ?? "{}").utf8)) }
        }
        seeds.append([0, 0xF0] + Array("/v1/store/secrets?action=g%65t&action=list\n{\"path\":\"apps/db\"}".utf8))
        return seeds
    }
}
