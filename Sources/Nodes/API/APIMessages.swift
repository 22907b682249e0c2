import Foundation
import Projections

// SPIKE's request and response bodies (reference §2.3), field names as on the wire.

struct SecretPutRequest: Decodable {
    var path: String
    var values: [String: String]?
    /// Check-and-set (an extension, as Vault KV v2): 0 = only if the path has no live version,
    /// n = only if the current version is n.
    var cas: Int?
}

struct SecretReadRequest: Decodable {
    var path: String
    var version: Int?
}

struct SecretVersionsRequest: Decodable {
    var path: String
    var versions: [Int]?
}

struct EmptyRequest: Decodable {}

struct SecretGetResponse: Encodable {
    var data: [String: String]?
    var err: String?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(data, forKey: .data)
        try container.encodeIfPresent(err, forKey: .err)
    }

    enum CodingKeys: String, CodingKey { case data, err }
}

struct SecretListResponse: Encodable {
    var keys: [String]
}

struct SecretMetadataResponse: Encodable {
    struct Version: Encodable {
        var createdTime: String
        var version: Int
        var deletedTime: String?
        var destroyed: Bool

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(createdTime, forKey: .createdTime)
            try container.encode(version, forKey: .version)
            try container.encode(deletedTime, forKey: .deletedTime)
            try container.encode(destroyed, forKey: .destroyed)
        }

        enum CodingKeys: String, CodingKey { case createdTime, version, deletedTime, destroyed }
    }

    struct Metadata: Encodable {
        var currentVersion: Int
        var oldestVersion: Int
        var createdTime: String
        var updatedTime: String
        var maxVersions: Int
    }

    var versions: [String: Version]
    var metadata: Metadata

    init(_ entry: SecretEntry) {
        versions = Dictionary(uniqueKeysWithValues: entry.versions.values.map {
            (String($0.version), Version(createdTime: APITime.format($0.createdAt), version: $0.version,
                                         deletedTime: $0.deletedAt.map(APITime.format), destroyed: $0.destroyed))
        })
        metadata = Metadata(currentVersion: entry.currentVersion, oldestVersion: entry.oldestVersion,
                            createdTime: APITime.format(entry.createdAt), updatedTime: APITime.format(entry.updatedAt),
                            maxVersions: entry.maxVersions)
    }
}

struct PolicyPutRequest: Decodable {
    var name: String
    var spiffeidPattern: String
    var pathPattern: String
    var permissions: [String]?
}

struct PolicyNameRequest: Decodable {
    /// SPIKE calls the policy's name `id` here.
    var id: String
}

struct PolicyListRequest: Decodable {
    var spiffeidPattern: String?
    var pathPattern: String?
}

/// A policy as SPIKE returns it. `spiffiedPattern` is SPIKE's (misspelled) response key, kept
/// for its clients; `spiffeidPattern`, the request's spelling, is there too.
struct PolicyResponse: Encodable {
    var id = ""
    var name: String
    var spiffiedPattern: String
    var spiffeidPattern: String
    var pathPattern: String
    var permissions: [String]
    var createdAt: String
    var updatedAt: String

    init(_ policy: Policy) {
        name = policy.name
        spiffiedPattern = policy.spiffeidPattern
        spiffeidPattern = policy.spiffeidPattern
        pathPattern = policy.pathPattern
        permissions = policy.permissions.map(\.rawValue)
        createdAt = APITime.format(policy.createdAt)
        updatedAt = APITime.format(policy.updatedAt)
    }
}

struct PolicyListResponse: Encodable {
    var policies: [PolicyResponse]
}

struct CipherEncryptRequest: Decodable {
    var plaintext: Data
    var algorithm: String?
}

struct CipherEncryptResponse: Encodable {
    var version: UInt8
    var nonce: Data
    var ciphertext: Data
}

struct CipherDecryptRequest: Decodable {
    var version: Int
    var nonce: Data
    var ciphertext: Data
    var algorithm: String?
}

struct CipherDecryptResponse: Encodable {
    var plaintext: Data
}

/// Times as Go's `encoding/json` writes them (RFC 3339 with trailing zeros of the fraction
/// dropped), in UTC.
enum APITime {
    static func format(_ milliseconds: Int64) -> String {
        let seconds = Int64((Double(milliseconds) / 1000).rounded(.down))
        let fraction = milliseconds - seconds * 1000
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var text = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                          parts.tm_hour, parts.tm_min, parts.tm_sec)
        if fraction != 0 {
            var digits = String(format: "%03d", fraction)
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text + "Z"
    }
}
