import Foundation
import Testing
import SPIFFE
import X509

/// `spike dev ca` as a user runs it: the real executable, real files.
@Suite struct DevCATests {
    @Test func initIssueAndValidate() async throws {
        let dir = NSTemporaryDirectory() + "spike-dev-ca-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try SpikeExecutable.run(["dev", "ca", "init", "--dir", dir, "--trust-domain", "spike.ist"]).status == 0)
        let issued = try SpikeExecutable.run(["dev", "ca", "issue", "--dir", dir, "--id", "spiffe://spike.ist/spike/keeper", "--out", dir + "/keeper", "--ttl", "600"])
        #expect(issued.status == 0, "\(issued.output)")

        let source = try PEMFileX509Source(certificatePath: dir + "/keeper.pem", keyPath: dir + "/keeper.key", bundlePath: dir + "/bundle.pem")
        let material = try source.material()
        #expect(material.svid.id.description == "spiffe://spike.ist/spike/keeper")
        #expect(try await X509SVIDValidator.validate(chain: material.svid.certificates, bundles: material.bundles) == material.svid.id)
        let lifetime = material.svid.leaf.notValidAfter.timeIntervalSince(Date())
        #expect(lifetime > 500 && lifetime <= 601)  // certificate times have whole seconds

        for key in ["ca.key", "keeper.key"] {
            let mode = try FileManager.default.attributesOfItem(atPath: "\(dir)/\(key)")[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o600, "\(key) must be private")
        }
        // The CA is never overwritten; IDs outside the trust domain are refused; both clearly.
        let again = try SpikeExecutable.run(["dev", "ca", "init", "--dir", dir])
        #expect(again.status == 1 && again.output.contains("exists"))
        let foreign = try SpikeExecutable.run(["dev", "ca", "issue", "--dir", dir, "--id", "spiffe://other.org/x", "--out", dir + "/x"])
        #expect(foreign.status == 1 && foreign.output.contains("not in trust domain"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.key"))
        let bad = try SpikeExecutable.run(["dev", "ca", "issue", "--dir", dir, "--id", "spiffe://spike.ist/a//b", "--out", dir + "/y"])
        #expect(bad.status == 1 && bad.output.contains("empty segments"))
    }
}
