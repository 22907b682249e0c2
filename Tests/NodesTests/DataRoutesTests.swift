import Crypto
import EventLog
import Foundation
import NIOHTTP1
import Nodes
import Projections
import SpikeAPI
import SpikeClient
import Testing

/// SPIKE's data API on a real Nexus over real mutual TLS: the secret, policy and cipher routes,
/// their wire shapes and error codes, authorization by role and policy, and what reaches the log.
@Suite struct DataRoutesTests {
    static let superuser = "/spike/pilot/role/superuser"

    @Test func secretsOverTheWire() async throws {
        let nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let admin = try nexus.client(Self.superuser)
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/db","values":{"username":"spike","password":"s3cr3t"}}"#) == (200, "{}"))
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/db","values":{"password":"n3w"}}"#) == (200, "{}"))
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=get", #"{"path":"apps/db"}"#) == (200, #"{"data":{"password":"n3w"}}"#))
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=get", #"{"path":"apps/db","version":1}"#)
                == (200, #"{"data":{"password":"s3cr3t","username":"spike"}}"#))
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=list", "{}") == (200, #"{"keys":["apps/db"]}"#))
            let (status, body) = try await nexus.post(admin, "/v1/store/secrets/metadata?action=get", #"{"path":"apps/db"}"#)
            #expect(status == 200)
            let metadata = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            let summary = metadata?["metadata"] as? [String: Any]
            #expect(summary?["currentVersion"] as? Int == 2 && summary?["oldestVersion"] as? Int == 1 && summary?["maxVersions"] as? Int == 10)
            let versions = metadata?["versions"] as? [String: [String: Any]]
            #expect(versions?.keys.sorted() == ["1", "2"] && versions?["1"]?["version"] as? Int == 1)
            #expect(versions?["1"]?["deletedTime"] is NSNull)
            #expect((versions?["1"]?["createdTime"] as? String)?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/) != nil)
            // Delete the current version: reads fall back to v1; the deleted version is 404.
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=delete", #"{"path":"apps/db","versions":[]}"#) == (200, "{}"))
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=get", #"{"path":"apps/db","version":2}"#)
                == (404, #"{"data":null,"err":"api_not_found"}"#))
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=get", #"{"path":"apps/db"}"#).0 == 200)
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=undelete", #"{"path":"apps/db","versions":[]}"#) == (200, "{}"))
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=get", #"{"path":"apps/db"}"#) == (200, #"{"data":{"password":"n3w"}}"#))
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=destroy", #"{"path":"apps/db","versions":[1]}"#) == (200, "{}"))
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=get", #"{"path":"apps/db","version":1}"#).0 == 404)
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=delete", #"{"path":"nothing/here"}"#).0 == 404)
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=undelete", #"{"path":"apps/db","versions":[2]}"#).0 == 404)
            // Check-and-set.
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/db","values":{},"cas":1}"#)
                == (409, #"{"err":"entity_version_mismatch"}"#))
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/db","values":{},"cas":2}"#) == (200, "{}"))
            // The log holds the writes, and no value.
            let events = try nexus.events()
            #expect(events.filter { $0.kind == SecretPut.kind }.count == 3)
            #expect(events.filter { $0.kind == SecretDeleted.kind || $0.kind == SecretUndeleted.kind || $0.kind == SecretDestroyed.kind }.count == 3)
            #expect(events.allSatisfy { !String(decoding: $0.encoded(), as: UTF8.self).contains("s3cr3t") })
            #expect(events.first { $0.kind == SecretPut.kind }?.actor == "spiffe://spike.ist/spike/pilot/role/superuser")
        }
    }

    @Test func malformedRequestsGetSPIKEsCodesAndChangeNothing() async throws {
        let nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let admin = try nexus.client(Self.superuser)
            let badRequest = (400, #"{"err":"api_bad_request"}"#)
            for (path, body) in [
                ("/v1/store/secrets", ""), ("/v1/store/secrets", "{"), ("/v1/store/secrets", "[]"), ("/v1/store/secrets", #"{"values":{}}"#),
                ("/v1/store/secrets", #"{"path":"bad path","values":{}}"#), ("/v1/store/secrets", #"{"path":"a","values":{"api.key":"x"}}"#),
                ("/v1/store/secrets", #"{"path":"a","values":{"k":1}}"#), ("/v1/store/secrets", #"{"path":"","values":{}}"#),
                ("/v1/store/secrets?action=nope", "{}"), ("/v1/store/other", "{}"), ("/v1/store/secrets?action=delete", #"{"path":"a","versions":"x"}"#),
                ("/v1/acl/policy", #"{"name":"p","spiffeidPattern":".*","pathPattern":"a","permissions":["read"]}"#),
                ("/v1/acl/policy", #"{"name":"p","spiffeidPattern":"^spiffe://a$","pathPattern":"a","permissions":["delete"]}"#),
                ("/v1/acl/policy", #"{"name":"p","spiffeidPattern":"^spiffe://a$","pathPattern":"a","permissions":[]}"#),
                ("/v1/acl/policy", #"{"name":"p/q","spiffeidPattern":"^spiffe://a$","pathPattern":"a","permissions":["read"]}"#),
                ("/v1/acl/policy?action=get", #"{"id":"a.b"}"#),
            ] {
                #expect(try await nexus.post(admin, path, body) == badRequest, "\(path) \(body)")
            }
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=get", "{").0 == 400)
            let get = try await admin.get(nexus.url, path: "/v1/store/secrets?action=list")
            #expect(get.status.code == 400 && String(decoding: get.body, as: UTF8.self) == badRequest.1)
            // A body over the limit is refused before it is read whole.
            let huge = #"{"path":"a","values":{"k":""# + String(repeating: "x", count: 2 << 20) + #""}}"#
            #expect(try await nexus.post(admin, "/v1/store/secrets", huge).0 == 413)
            // Nothing was written, and the Nexus still serves.
            #expect(try nexus.events().allSatisfy { ![SecretPut.kind, PolicyPut.kind, AccessDenied.kind].contains($0.kind) })
            #expect(try await nexus.post(admin, "/v1/store/secrets?action=list", "{}") == (200, #"{"keys":[]}"#))
        }
    }

    @Test func aPolicyLetsAWorkloadReadOnePathAndNotAnother() async throws {
        let nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let admin = try nexus.client(Self.superuser)
            let web = try nexus.client("/workload/web")
            for path in ["apps/web/db", "apps/billing/db"] {
                #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"\#(path)","values":{"password":"\#(path)-pw"}}"#).0 == 200)
            }
            #expect(try await nexus.post(web, "/v1/store/secrets?action=get", #"{"path":"apps/web/db"}"#)
                == (401, #"{"data":null,"err":"access_unauthorized"}"#))
            let policy = #"{"name":"web-reader","spiffeidPattern":"^spiffe://spike\\.ist/workload/web$","pathPattern":"^apps/web/.*$","permissions":["read"]}"#
            #expect(try await nexus.post(admin, "/v1/acl/policy", policy) == (200, "{}"))
            #expect(try await nexus.post(web, "/v1/store/secrets?action=get", #"{"path":"apps/web/db"}"#) == (200, #"{"data":{"password":"apps/web/db-pw"}}"#))
            #expect(try await nexus.post(web, "/v1/store/secrets/metadata?action=get", #"{"path":"apps/web/db"}"#).0 == 200)
            #expect(try await nexus.post(web, "/v1/store/secrets?action=get", #"{"path":"apps/billing/db"}"#).0 == 401)
            #expect(try await nexus.post(web, "/v1/store/secrets", #"{"path":"apps/web/db","values":{}}"#).0 == 401)
            #expect(try await nexus.post(web, "/v1/store/secrets?action=list", "{}").0 == 401)
            #expect(try await nexus.post(web, "/v1/acl/policy?action=list", "{}").0 == 401)
            #expect(try await nexus.post(web, "/v1/cipher/encrypt", #"{"plaintext":"aGk="}"#).0 == 401)
            // Another workload gets nothing from that policy.
            #expect(try await nexus.post(try nexus.client("/workload/web-2"), "/v1/store/secrets?action=get", #"{"path":"apps/web/db"}"#).0 == 401)
            // The policy as SPIKE returns it.
            let (status, body) = try await nexus.post(admin, "/v1/acl/policy?action=get", #"{"id":"web-reader"}"#)
            let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            #expect(status == 200 && object?["name"] as? String == "web-reader" && object?["id"] as? String == "")
            #expect(object?["spiffiedPattern"] as? String == #"^spiffe://spike\.ist/workload/web$"# && object?["permissions"] as? [String] == ["read"])
            #expect(try await nexus.post(admin, "/v1/acl/policy?action=list", #"{"pathPattern":"^apps/web/.*$"}"#).1.contains("web-reader"))
            #expect(try await nexus.post(admin, "/v1/acl/policy?action=list", #"{"pathPattern":"apps/web/.*"}"#) == (200, #"{"policies":[]}"#))
            // ADR-0033: an unanchored pattern that reaches the ACL is refused, nothing stored.
            let overreach = #"{"name":"sneaky","spiffeidPattern":"^spiffe://spike\\.ist/workload/web$","pathPattern":"acl","permissions":["write"]}"#
            #expect(try await nexus.post(admin, "/v1/acl/policy", overreach) == (400, #"{"err":"entity_invalid"}"#))
            #expect(try await nexus.post(admin, "/v1/acl/policy?action=get", #"{"id":"sneaky"}"#) == (404, #"{"err":"api_not_found"}"#))
            // Deleting the policy takes the access away; a second delete is 404.
            #expect(try await nexus.post(admin, "/v1/acl/policy?action=delete", #"{"id":"web-reader"}"#) == (200, "{}"))
            #expect(try await nexus.post(admin, "/v1/acl/policy?action=delete", #"{"id":"web-reader"}"#).0 == 404)
            #expect(try await nexus.post(web, "/v1/store/secrets?action=get", #"{"path":"apps/web/db"}"#).0 == 401)
            // A refused request with an oversized path is recorded with a bounded path (in bytes, even
            // when one character is made of many scalars), and no policy pattern ever runs on it.
            #expect(try await nexus.post(web, "/v1/store/secrets", #"{"path":"\#(String(repeating: "p", count: 100_000))","values":{}}"#).0 == 401)
            #expect(try await nexus.post(web, "/v1/store/secrets", #"{"path":"a\#(String(repeating: "\u{301}", count: 100_000))","values":{}}"#).0 == 401)
            // Every refusal is an AccessDenied event naming the caller and what it wanted; the
            // second equal one (web reading apps/web/db again) is counted, to be written with the
            // window's summary.
            let denials = try nexus.events().compactMap { event -> (String, AccessDenied)? in
                if let denied = event.payload as? AccessDenied { return (event.actor, denied) }
                return nil
            }
            #expect(denials.count == 9 && denials.allSatisfy { $0.1.path.utf8.count <= 512 && $0.1.count == nil })
            #expect(denials.contains { $0.0 == "spiffe://spike.ist/workload/web" && $0.1.operation == "secret.get" && $0.1.path == "apps/billing/db" && $0.1.wants == ["read"] })
            #expect(denials.contains { $0.1.operation == "policy.list" && $0.1.path == "spike/system/acl" && $0.1.wants == ["list"] })
            let metrics = String(decoding: try await admin.get(nexus.url, path: "/metrics").body, as: UTF8.self)
            let samples = try #require(prometheusSamples(metrics))
            #expect(samples["spike_access_denied_total"] == 10 && samples["spike_secrets"] == 2 && samples["spike_policies"] == 0)
            #expect(metrics.contains("# TYPE spike_access_denied_total counter") && metrics.contains("# TYPE spike_secrets gauge"))
        }
    }

    /// `write` may delete and undelete (each reverses the other) but not destroy, which shreds the
    /// versions' keys for good: that wants `super` on the path.
    @Test func destroyWantsSuperNotWrite() async throws {
        let nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let admin = try nexus.client(Self.superuser)
            let writer = try nexus.client("/workload/writer")
            let owner = try nexus.client("/workload/owner")
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/db","values":{"k":"v1"}}"#).0 == 200)
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"apps/db","values":{"k":"v2"}}"#).0 == 200)
            for (name, id, permissions) in [("writer", "writer", #"["read","write"]"#), ("owner", "owner", #"["super"]"#)] {
                let policy = #"{"name":"\#(name)","spiffeidPattern":"^spiffe://spike\\.ist/workload/\#(id)$","pathPattern":"^apps/.*$","permissions":\#(permissions)}"#
                #expect(try await nexus.post(admin, "/v1/acl/policy", policy) == (200, "{}"))
            }
            #expect(try await nexus.post(writer, "/v1/store/secrets?action=delete", #"{"path":"apps/db","versions":[1]}"#) == (200, "{}"))
            #expect(try await nexus.post(writer, "/v1/store/secrets?action=undelete", #"{"path":"apps/db","versions":[1]}"#) == (200, "{}"))
            #expect(try await nexus.post(writer, "/v1/store/secrets?action=destroy", #"{"path":"apps/db","versions":[1]}"#)
                == (401, #"{"err":"access_unauthorized"}"#))
            #expect(try await nexus.post(writer, "/v1/store/secrets?action=get", #"{"path":"apps/db","version":1}"#) == (200, #"{"data":{"k":"v1"}}"#))
            let refusal = try nexus.events().compactMap { $0.payload as? AccessDenied }.last
            #expect(refusal?.operation == "secret.destroy" && refusal?.wants == ["super"])
            #expect(try await nexus.post(owner, "/v1/store/secrets?action=destroy", #"{"path":"apps/db","versions":[1]}"#) == (200, "{}"))
            #expect(try await nexus.post(owner, "/v1/store/secrets?action=get", #"{"path":"apps/db","version":1}"#).0 == 404)
            #expect(try await nexus.post(owner, "/v1/store/secrets?action=get", #"{"path":"apps/db"}"#) == (200, #"{"data":{"k":"v2"}}"#))
        }
    }

    @Test func cipherInJSONAndStreamModes() async throws {
        let nexus = try await NexusHarness(environment: ["SPIKE_NEXUS_CRYPTO_MAX_CIPHERTEXT_SIZE": "1024"])
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let lite = try nexus.client("/spike/workload/role/lite")
            let plaintext = Data("attack at dawn".utf8)
            let (status, body) = try await nexus.post(lite, "/v1/cipher/encrypt", #"{"plaintext":"\#(plaintext.base64EncodedString())"}"#)
            #expect(status == 200)
            let sealed = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
            let nonce = try #require(sealed?["nonce"] as? String)
            let ciphertext = try #require(sealed?["ciphertext"] as? String)
            #expect(sealed?["version"] as? Int == 1 && Data(base64Encoded: nonce)?.count == 12 && Data(base64Encoded: ciphertext)?.count == plaintext.count + 16)
            let opened = try await nexus.post(lite, "/v1/cipher/decrypt", #"{"version":1,"nonce":"\#(nonce)","ciphertext":"\#(ciphertext)"}"#)
            #expect(opened == (200, #"{"plaintext":"\#(plaintext.base64EncodedString())"}"#))
            // JSON mode refusals: version, nonce size, tampering (400 here; SPIKE: 500), size limit.
            #expect(try await nexus.post(lite, "/v1/cipher/decrypt", #"{"version":2,"nonce":"\#(nonce)","ciphertext":"\#(ciphertext)"}"#).0 == 400)
            #expect(try await nexus.post(lite, "/v1/cipher/decrypt", #"{"version":1,"nonce":"AAAA","ciphertext":"\#(ciphertext)"}"#).0 == 400)
            var tampered = Data(base64Encoded: ciphertext)!
            tampered[0] ^= 1
            #expect(try await nexus.post(lite, "/v1/cipher/decrypt", #"{"version":1,"nonce":"\#(nonce)","ciphertext":"\#(tampered.base64EncodedString())"}"#)
                == (400, #"{"err":"api_bad_request"}"#))
            let tooBig = Data(count: 1025).base64EncodedString()
            #expect(try await nexus.post(lite, "/v1/cipher/encrypt", #"{"plaintext":"\#(tooBig)"}"#).0 == 400)
            // Stream mode: 0x01 ‖ nonce ‖ ciphertext ‖ tag.
            let stream = "application/octet-stream"
            let admin = try nexus.client(Self.superuser)
            let encrypted = try await admin.post(nexus.url, path: "/v1/cipher/encrypt", body: Array(plaintext), contentType: stream)
            #expect(encrypted.status == .ok && encrypted.body.first == 1 && encrypted.body.count == 1 + 12 + plaintext.count + 16)
            let decrypted = try await admin.post(nexus.url, path: "/v1/cipher/decrypt", body: encrypted.body, contentType: stream)
            #expect(decrypted.status == .ok && Data(decrypted.body) == plaintext)
            // The JSON nonce and ciphertext are the stream's parts.
            let fromJSON = [1] + Array(Data(base64Encoded: nonce)!) + Array(Data(base64Encoded: ciphertext)!)
            #expect(Data(try await admin.post(nexus.url, path: "/v1/cipher/decrypt", body: fromJSON, contentType: stream).body) == plaintext)
            for (bytes, answer) in [([UInt8](), "crypto_failed_to_read_version"), ([2, 0, 0], "crypto_unsupported_version"),
                                    ([1, 0, 0], "crypto_failed_to_read_nonce"), ([1] + [UInt8](repeating: 0, count: 40), "decryption failed")] {
                let refused = try await admin.post(nexus.url, path: "/v1/cipher/decrypt", body: bytes, contentType: stream)
                #expect(refused.status == .badRequest && String(decoding: refused.body, as: UTF8.self) == answer)
            }
            // Bootstrap's verification: the SHA-256 of what its ciphertext under R opens to; Bootstrap
            // only; the cipher's ciphertexts (another key) do not open.
            let verify = try nexus.bootstrapProof(plaintext)
            let expected = SHA256.hash(data: plaintext).map { String(format: "%02x", $0) }.joined()
            #expect(try await nexus.post(try nexus.client("/spike/bootstrap"), "/v1/bootstrap/verify", verify) == (200, #"{"hash":"\#(expected)"}"#))
            #expect(try await nexus.post(admin, "/v1/bootstrap/verify", verify).0 == 401)
            #expect(try await nexus.post(try nexus.client("/spike/bootstrap"), "/v1/bootstrap/verify",
                                         #"{"nonce":"\#(nonce)","ciphertext":"\#(ciphertext)"}"#) == (400, #"{"err":"api_bad_request"}"#))
            // A lite workload may use the cipher and nothing else.
            #expect(try await nexus.post(lite, "/v1/store/secrets?action=list", "{}").0 == 401)
        }
    }

    @Test func stateSurvivesARestartOfTheNexus() async throws {
        let nexus = try await NexusHarness()
        try await awaitingCleanup({ await nexus.stop() }) {
            try await nexus.initialize()
            let admin = try nexus.client(Self.superuser)
            #expect(try await nexus.post(admin, "/v1/store/secrets", #"{"path":"kept","values":{"k":"v"}}"#).0 == 200)
            #expect(try await nexus.post(admin, "/v1/acl/policy", #"{"name":"p","spiffeidPattern":"^spiffe://x/y$","pathPattern":"^kept$","permissions":["read"]}"#).0 == 200)
            let projections = try NexusProjections.replay(nexus.node.log, keyring: .init([LogKeyFile.readPrivateKey(at: nexus.directory + "/audit-key.pem")]))
            #expect(projections.data.secrets["kept"]?.currentVersion == 1 && projections.data.policies["p"] != nil)
        }
    }
}
