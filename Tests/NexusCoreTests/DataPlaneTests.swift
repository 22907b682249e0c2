import EventLog
import NexusCore
import Projections
import Testing

/// A durable decision is taken into the plane as its batch folded it (ADR-0024): the plane it
/// leaves is the one its events folded one by one leave, whatever the commands.
@Suite struct DataPlaneTests {
    let keys = DataKeys(rootKey: RootKey.generate(), epoch: 1)

    func put(_ path: String, _ value: String, cas: Int? = nil) throws -> DataCommand {
        .putSecret(path: path, sealed: try VersionSeal.seal(["k": value], path: path, epoch: keys.epoch, dataKey: keys.data), cas: cas)
    }

    func context(_ now: Int64) -> DataContext {
        DataContext(actor: "spiffe://spike.test/spike/pilot/role/superuser", trail: "t", now: now)
    }

    /// Applies `commands` as the store does, and folds the same decision's events into a copy of
    /// the plane as a restart would; both must agree.
    func applyAndFold(_ commands: [DataCommand], on plane: inout DataPlane, at now: Int64) {
        let decision = plane.decide(commands.map { ($0, context(now)) }, keys: keys)
        var folded = plane.projection
        for event in decision.events { folded.apply(event) }
        plane.apply(decision)
        #expect(plane.projection.secrets == folded.secrets)
        #expect(plane.projection.accessDenials == folded.accessDenials)
        #expect(Self.policies(plane.projection) == Self.policies(folded))
    }

    static func policies(_ projection: DataProjection) -> [String] {
        projection.policies.keys.sorted().map { name in
            let policy = projection.policies[name]!
            return "\(name):\(policy.spiffeidPattern):\(policy.pathPattern):\(policy.permissions):\(policy.createdAt):\(policy.updatedAt)"
        }
    }

    @Test func aDecisionAppliedIsItsEventsFolded() throws {
        var plane = DataPlane(projection: DataProjection(), versionKeys: [:], maxVersions: 3)
        let refusal = DataCommand.denyAccess(AccessDenied(operation: "read", path: "apps/db", wants: ["read"], at: 5))
        applyAndFold([
            try put("apps/db", "1"), try put("apps/db", "2"), try put("apps/web", "1"),
            .putPolicy(name: "web", spiffeidPattern: "^spiffe://spike\\.test/web$", pathPattern: "^apps/web", permissions: [.read]),
            .putPolicy(name: "audit", spiffeidPattern: "^spiffe://spike\\.test/audit$", pathPattern: "^apps/", permissions: [.list]),
            refusal,
        ], on: &plane, at: 1)
        #expect(plane.projection.secrets["apps/db"]?.currentVersion == 2 && plane.projection.accessDenials == 1)
        // On entries the plane holds already: a version pruned (max 3), deleted, undeleted and
        // destroyed in one batch, a policy replaced, one deleted, one put and deleted, refusals
        // counted again.
        applyAndFold([
            try put("apps/db", "3"), try put("apps/db", "4", cas: 3),
            .deleteSecret(path: "apps/db", versions: [3, 4]), .undeleteSecret(path: "apps/db", versions: [4]),
            .destroySecret(path: "apps/db", versions: [2]),
            .putPolicy(name: "web", spiffeidPattern: "^spiffe://spike\\.test/web$", pathPattern: "^apps/", permissions: [.read, .write]),
            .putPolicy(name: "ops", spiffeidPattern: "^spiffe://spike\\.test/ops$", pathPattern: "^ops/", permissions: [.list]),
            .deletePolicy(name: "ops"), .deletePolicy(name: "audit"),
            .deleteSecret(path: "apps/web", versions: []),
            refusal, refusal,
        ], on: &plane, at: 2)
        let db = try #require(plane.projection.secrets["apps/db"])
        #expect(db.currentVersion == 4 && db.versions.keys.sorted() == [2, 3, 4] && db.versions[2]?.destroyed == true)
        #expect(Self.policies(plane.projection).count == 1 && plane.projection.accessDenials == 3)
        // Commands that change nothing leave it as it was.
        let before = plane.projection.secrets
        applyAndFold([.undeleteSecret(path: "apps/none", versions: [1]), try put("apps/db", "x", cas: 1)], on: &plane, at: 3)
        #expect(plane.projection.secrets == before)
    }

    /// The version keys follow the key-table changes of the decision: a put's key is kept, a
    /// destroyed or pruned version's key is dropped.
    @Test func versionKeysFollowTheDecisionsKeyChanges() throws {
        var plane = DataPlane(projection: DataProjection(), versionKeys: [:], maxVersions: 2)
        applyAndFold([try put("apps/db", "1"), try put("apps/db", "2")], on: &plane, at: 1)
        #expect(plane.versionKeys.count == 2)
        let first = try #require(plane.projection.secrets["apps/db"]?.versions[1]?.keyID)
        applyAndFold([try put("apps/db", "3")], on: &plane, at: 2)
        #expect(plane.versionKeys.count == 2 && plane.versionKeys[first] == nil, "the pruned version's key is gone")
        applyAndFold([.destroySecret(path: "apps/db", versions: [3])], on: &plane, at: 3)
        #expect(plane.versionKeys.count == 1)
    }
}
