import Foundation
import Projections

// SPIKE's request and response bodies (reference §2.3), field names as on the wire; the
// server and the `spike` client share them.

public struct SecretPutRequest: Codable, Sendable {
    public var path: String
    public var values: [String: String]?
    /// Check-and-set (an extension, as Vault KV v2): 0 = only if the path has no live version,
    /// n = only if the current version is n.
    public var cas: Int?

    public init(path: String, values: [String: String], cas: Int? = nil) {
        self.path = path
        self.values = values
        self.cas = cas
    }
}

public struct SecretReadRequest: Codable, Sendable {
    public var path: String
    public var version: Int?

    public init(path: String, version: Int) {
        self.path = path
        self.version = version
    }
}

public struct SecretVersionsRequest: Codable, Sendable {
    public var path: String
    public var versions: [Int]?

    public init(path: String, versions: [Int]) {
        self.path = path
        self.versions = versions
    }
}

public struct EmptyRequest: Codable, Sendable {
    public init() {}
}

public struct SecretGetResponse: Codable, Sendable {
    public var data: [String: String]?
    public var err: String?

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(data, forKey: .data)
        try container.encodeIfPresent(err, forKey: .err)
    }

    public enum CodingKeys: String, CodingKey { case data, err }
}

public struct SecretListResponse: Codable, Sendable {
    public var keys: [String]
}

public struct SecretMetadataResponse: Codable, Sendable {
    public struct Version: Codable, Sendable {
        public var createdTime: String
        public var version: Int
        public var deletedTime: String?
        /// Not in SPIKE: the version's data was destroyed for good.
        public var destroyed: Bool?

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(createdTime, forKey: .createdTime)
            try container.encode(version, forKey: .version)
            try container.encode(deletedTime, forKey: .deletedTime)
            try container.encodeIfPresent(destroyed, forKey: .destroyed)
        }

        public enum CodingKeys: String, CodingKey { case createdTime, version, deletedTime, destroyed }
    }

    public struct Metadata: Codable, Sendable {
        public var currentVersion: Int
        public var oldestVersion: Int
        public var createdTime: String
        public var updatedTime: String
        public var maxVersions: Int
    }

    public var versions: [String: Version]
    public var metadata: Metadata

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

public struct PolicyPutRequest: Codable, Sendable {
    public var name: String
    public var spiffeidPattern: String
    public var pathPattern: String
    public var permissions: [String]?

    public init(name: String, spiffeidPattern: String, pathPattern: String, permissions: [String]) {
        self.name = name
        self.spiffeidPattern = spiffeidPattern
        self.pathPattern = pathPattern
        self.permissions = permissions
    }
}

public struct PolicyNameRequest: Codable, Sendable {
    /// SPIKE calls the policy's name `id` here.
    public var id: String

    public init(id: String) {
        self.id = id
    }
}

public struct PolicyListRequest: Codable, Sendable {
    public var spiffeidPattern: String?
    public var pathPattern: String?

    public init(spiffeidPattern: String?, pathPattern: String?) {
        self.spiffeidPattern = spiffeidPattern
        self.pathPattern = pathPattern
    }
}

/// A policy as SPIKE returns it. `spiffiedPattern` is SPIKE's (misspelled) response key, kept
/// for its clients; `spiffeidPattern`, the request's spelling, is there too.
public struct PolicyResponse: Codable, Sendable {
    public var id = ""
    public var name: String
    public var spiffiedPattern: String
    public var spiffeidPattern: String?
    public var pathPattern: String
    public var permissions: [String]
    public var createdAt: String
    public var updatedAt: String

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

public struct PolicyListResponse: Codable, Sendable {
    public var policies: [PolicyResponse]
}

public struct CipherEncryptRequest: Codable, Sendable {
    public var plaintext: Data
    public var algorithm: String?

    public init(plaintext: Data) {
        self.plaintext = plaintext
    }
}

public struct CipherEncryptResponse: Codable, Sendable {
    public var version: UInt8
    public var nonce: Data
    public var ciphertext: Data
}

public struct CipherDecryptRequest: Codable, Sendable {
    public var version: Int
    public var nonce: Data
    public var ciphertext: Data
    public var algorithm: String?

    public init(version: Int, nonce: Data, ciphertext: Data) {
        self.version = version
        self.nonce = nonce
        self.ciphertext = ciphertext
    }
}

public struct CipherDecryptResponse: Codable, Sendable {
    public var plaintext: Data
}

public struct BootstrapVerifyRequest: Codable, Sendable {
    public var nonce: Data
    public var ciphertext: Data

    public init(nonce: Data, ciphertext: Data) {
        self.nonce = nonce
        self.ciphertext = ciphertext
    }
}

public struct BootstrapVerifyResponse: Codable, Sendable {
    /// Hex SHA-256 of the plaintext.
    public var hash: String
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
            var digits = String(String(fraction + 1000).dropFirst())
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text + "Z"
    }
}
