/// What `spike log replay` prints: the Nexus' state as the fold of the log gives it (the same
/// fold the Nexus runs), and what can be compared with a running Nexus (`differences`).
public struct StateSummary: Codable, Sendable {
    public struct Version: Codable, Sendable, Equatable {
        public var version: Int
        public var deleted: Bool
        public var destroyed: Bool

        public init(version: Int, deleted: Bool, destroyed: Bool) {
            self.version = version
            self.deleted = deleted
            self.destroyed = destroyed
        }
    }

    public struct Secret: Codable, Sendable, Equatable {
        public var path: String
        /// The newest live version; 0 when none is live.
        public var currentVersion: Int
        public var versions: [Version]

        public init(path: String, currentVersion: Int, versions: [Version]) {
            self.path = path
            self.currentVersion = currentVersion
            self.versions = versions.sorted { $0.version < $1.version }
        }
    }

    public struct PolicySummary: Codable, Sendable, Equatable {
        public var name: String
        public var spiffeidPattern: String
        public var pathPattern: String
        public var permissions: [String]

        public init(name: String, spiffeidPattern: String, pathPattern: String, permissions: [String]) {
            self.name = name
            self.spiffeidPattern = spiffeidPattern
            self.pathPattern = pathPattern
            self.permissions = permissions.sorted()
        }
    }

    public struct Keeper: Codable, Sendable {
        public var keeper: Int
        public var url: String
        public var lastOutcome: String?
        public var lastPolledAt: Timestamp?
        public var rehydrations: Int
    }

    public var epoch: UInt32
    public var initialized: Bool
    public var head: UInt64
    /// How far the data events were checked: with the root key every authenticator is, else
    /// none is (the fold is then what the audit key alone shows).
    public var authentication: String
    public var secrets: [Secret]
    public var policies: [PolicySummary]
    public var keepers: [Keeper]

    public init(_ projections: NexusProjections, head: UInt64, authentication: String) {
        epoch = projections.lifecycle.epoch
        initialized = projections.lifecycle.isInitialized
        self.head = head
        self.authentication = authentication
        secrets = projections.data.secrets.map { path, entry in
            Secret(path: path, currentVersion: entry.currentVersion, versions: entry.versions.values.map {
                Version(version: $0.version, deleted: $0.deletedAt != nil, destroyed: $0.destroyed)
            })
        }.sorted { $0.path < $1.path }
        policies = projections.data.policies.values.map {
            PolicySummary(name: $0.name, spiffeidPattern: $0.spiffeidPattern, pathPattern: $0.pathPattern, permissions: $0.permissions.map(\.rawValue))
        }.sorted { $0.name < $1.name }
        keepers = projections.lifecycle.keepers.keys.sorted().map { index in
            let keeper = projections.lifecycle.keepers[index]!
            return Keeper(keeper: index, url: keeper.url, lastOutcome: keeper.lastOutcome?.rawValue,
                          lastPolledAt: keeper.lastPolledAt.map { Timestamp(milliseconds: $0) }, rehydrations: keeper.rehydrations)
        }
    }

    /// Every way a running Nexus' secrets and policies differ from this fold, one line each;
    /// empty when they agree. `live` holds the secrets the Nexus lists with their metadata (nil
    /// for a path whose metadata it does not show: no live version) and its policies.
    public func differences(secrets live: [String: Secret?], policies livePolicies: [PolicySummary]) -> [String] {
        var found: [String] = []
        let mine = Dictionary(uniqueKeysWithValues: secrets.map { ($0.path, $0) })
        for path in Set(mine.keys).union(live.keys).sorted() {
            switch (mine[path], live[path]) {
            case (let logged?, nil):
                found.append("secret \(path): in the log (current version \(logged.currentVersion)), not listed by the Nexus")
            case (nil, _):
                found.append("secret \(path): listed by the Nexus, not in the log")
            case (let logged?, let listed??):
                if logged.currentVersion != listed.currentVersion {
                    found.append("secret \(path): current version \(logged.currentVersion) in the log, \(listed.currentVersion) on the Nexus")
                }
                if logged.versions != listed.versions {
                    found.append("secret \(path): versions \(Self.describe(logged.versions)) in the log, \(Self.describe(listed.versions)) on the Nexus")
                }
            case (let logged?, .some(nil)):
                if logged.currentVersion != 0 {
                    found.append("secret \(path): version \(logged.currentVersion) is live in the log, the Nexus shows none")
                }
            }
        }
        let myPolicies = Dictionary(uniqueKeysWithValues: policies.map { ($0.name, $0) })
        let theirs = Dictionary(uniqueKeysWithValues: livePolicies.map { ($0.name, $0) })
        for name in Set(myPolicies.keys).union(theirs.keys).sorted() {
            switch (myPolicies[name], theirs[name]) {
            case (_?, nil): found.append("policy \(name): in the log, not on the Nexus")
            case (nil, _?): found.append("policy \(name): on the Nexus, not in the log")
            case (let logged?, let served?) where logged != served:
                found.append("policy \(name): \(logged.spiffeidPattern) \(logged.pathPattern) \(logged.permissions) in the log, "
                    + "\(served.spiffeidPattern) \(served.pathPattern) \(served.permissions) on the Nexus")
            default: break
            }
        }
        return found
    }

    public static func describe(_ versions: [Version]) -> String {
        "[" + versions.map { "\($0.version)\($0.destroyed ? " destroyed" : $0.deleted ? " deleted" : "")" }.joined(separator: ", ") + "]"
    }
}
