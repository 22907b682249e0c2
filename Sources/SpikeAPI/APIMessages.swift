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

/// `spike operator recover`'s answer: every recovery shard, by share index (JSON object keys
/// are decimal strings and each shard an array of 32 numbers, as Go encodes SPIKE's map).
public struct RecoveryShardsResponse: Codable, Sendable {
    public var shards: [String: [UInt8]]

    public init(shards: [String: [UInt8]]) {
        self.shards = shards
    }
}

/// `spike operator restore`'s request: one recovery shard.
public struct ShardRestoreRequest: Codable, Sendable {
    public var id: Int
    public var shard: [UInt8]

    public init(id: Int, shard: [UInt8]) {
        self.id = id
        self.shard = shard
    }
}

/// `spike operator restore`'s answer, with SPIKE's arithmetic: shards in hand, shards still
/// needed, and whether the root key is back.
public struct ShardRestoreResponse: Codable, Sendable {
    public var collected: Int
    public var remaining: Int
    public var restored: Bool

    public init(collected: Int, remaining: Int, restored: Bool) {
        self.collected = collected
        self.remaining = remaining
        self.restored = restored
    }
}

/// `spike operator rotate`'s answer: the epoch the new root key opened, and whether recovery
/// files were exported before (they stop working once the Keepers hold the new shares).
public struct RotationResponse: Codable, Sendable {
    public var epoch: UInt32
    public var recoveryFilesInvalidated: Bool

    public init(epoch: UInt32, recoveryFilesInvalidated: Bool) {
        self.epoch = epoch
        self.recoveryFilesInvalidated = recoveryFilesInvalidated
    }
}

/// `spike admin password add|change|remove`'s request; `password` for add and change only.
public struct AdminPasswordRequest: Codable, Sendable {
    public var name: String
    public var password: String?

    public init(name: String, password: String? = nil) {
        self.name = name
        self.password = password
    }

    /// Admin names: 1 to 128 bytes, no control characters (they appear in reports and exports).
    public static func isValidName(_ name: String) -> Bool {
        (1...128).contains(name.utf8.count) && !name.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }
}

/// `spike admin password list`'s answer: names and dates, never a wrap.
public struct AdminListResponse: Codable, Sendable {
    public struct Admin: Codable, Sendable, Equatable {
        public var name: String
        /// When the admin's current password was set (RFC 3339); absent when the log does not say.
        public var since: String?

        public init(name: String, since: String?) {
            self.name = name
            self.since = since
        }
    }

    public var admins: [Admin]

    public init(admins: [Admin]) {
        self.admins = admins
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

    public init(path: String, version: Int?) {
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
