import Foundation

// SPIKE's request and response bodies (reference §2.3), field names as on the wire; the
// server and the `spike` client share them. Conversions from the domain live with the server.

/// `spike init`'s request: the admin password the root key is wrapped under.
public struct InitializationRequest: Codable, Sendable {
    public var password: String

    public init(password: String) {
        self.password = password
    }
}

/// `spike recover`'s request: an admin password for a sealed Nexus.
public struct PasswordRecoveryRequest: Codable, Sendable {
    public var password: String

    public init(password: String) {
        self.password = password
    }
}

/// The answer to a recovery that restored the root key: whose password did.
public struct PasswordRecoveryResponse: Codable, Sendable {
    public var admin: String

    public init(admin: String) {
        self.admin = admin
    }
}

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

    public init(data: [String: String]?, err: String?) {
        self.data = data
        self.err = err
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(data, forKey: .data)
        try container.encodeIfPresent(err, forKey: .err)
    }

    public enum CodingKeys: String, CodingKey { case data, err }
}

public struct SecretListResponse: Codable, Sendable {
    public var keys: [String]

    public init(keys: [String]) {
        self.keys = keys
    }
}

public struct SecretMetadataResponse: Codable, Sendable {
    public struct Version: Codable, Sendable {
        public var createdTime: String
        public var version: Int
        public var deletedTime: String?
        /// Not in SPIKE: the version's data was destroyed for good.
        public var destroyed: Bool?

        public init(createdTime: String, version: Int, deletedTime: String?, destroyed: Bool?) {
            self.createdTime = createdTime
            self.version = version
            self.deletedTime = deletedTime
            self.destroyed = destroyed
        }

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

        public init(currentVersion: Int, oldestVersion: Int, createdTime: String, updatedTime: String, maxVersions: Int) {
            self.currentVersion = currentVersion
            self.oldestVersion = oldestVersion
            self.createdTime = createdTime
            self.updatedTime = updatedTime
            self.maxVersions = maxVersions
        }
    }

    public var versions: [String: Version]
    public var metadata: Metadata

    public init(versions: [String: Version], metadata: Metadata) {
        self.versions = versions
        self.metadata = metadata
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

    public init(name: String, spiffiedPattern: String, spiffeidPattern: String?, pathPattern: String, permissions: [String], createdAt: String, updatedAt: String) {
        self.name = name
        self.spiffiedPattern = spiffiedPattern
        self.spiffeidPattern = spiffeidPattern
        self.pathPattern = pathPattern
        self.permissions = permissions
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct PolicyListResponse: Codable, Sendable {
    public var policies: [PolicyResponse]

    public init(policies: [PolicyResponse]) {
        self.policies = policies
    }
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

    public init(version: UInt8, nonce: Data, ciphertext: Data) {
        self.version = version
        self.nonce = nonce
        self.ciphertext = ciphertext
    }
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

    public init(plaintext: Data) {
        self.plaintext = plaintext
    }
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

    public init(hash: String) {
        self.hash = hash
    }
}
