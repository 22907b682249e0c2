import Foundation
import Testing
import X509
@testable import SPIFFE

@Suite struct WorkloadAPIMessageTests {
    @Test func x509SVIDResponseRoundTrips() throws {
        let response = WorkloadAPI.X509SVIDResponse(
            svids: [WorkloadAPI.X509SVIDMessage(spiffeID: "spiffe://example.org/w", certificates: [1, 2, 3], privateKey: [4], bundle: [5, 6], hint: "internal")],
            crls: [[7]],
            federatedBundles: ["spiffe://other.org": [8, 9], "third.org": [10]])
        #expect(try WorkloadAPI.X509SVIDResponse(serialized: response.serialized()) == response)
    }

    /// Bytes as protoc would write them (field numbers from workloadapi.proto), with a field this
    /// reader does not know (a future field 9 of each kind) that must be skipped.
    @Test func decodesKnownBytesAndSkipsUnknownFields() throws {
        let svid: [UInt8] = [0x0a, 0x01, 0x61,  // spiffe_id = "a"
                             0x12, 0x02, 0xaa, 0xbb,  // x509_svid
                             0x48, 0x96, 0x01,  // field 9 varint 150 (unknown)
                             0x22, 0x01, 0xcc]  // bundle
        var bytes: [UInt8] = [0x0a, UInt8(svid.count)] + svid
        bytes += [0x4d, 1, 2, 3, 4]  // field 9, fixed32 (unknown)
        bytes += [0x1a, 0x08, 0x0a, 0x02, 0x74, 0x64, 0x12, 0x02, 0x01, 0x02]  // federated_bundles {"td": [1,2]}
        let decoded = try WorkloadAPI.X509SVIDResponse(serialized: bytes)
        #expect(decoded.svids == [WorkloadAPI.X509SVIDMessage(spiffeID: "a", certificates: [0xaa, 0xbb], privateKey: [], bundle: [0xcc])])
        #expect(decoded.federatedBundles == ["td": [1, 2]])
    }

    @Test(arguments: [
        [0x0a, 0x05, 0x01],  // length past the end
        [0x0a],  // truncated length
        [0x0b, 0x00],  // wire type 3 (groups) unsupported
        [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],  // varint too long
    ] as [[UInt8]])
    func malformedBytesAreAClearError(_ bytes: [UInt8]) {
        #expect(throws: SPIFFEError.self) { try WorkloadAPI.X509SVIDResponse(serialized: bytes) }
    }

    @Test func materialRoundTripsThroughTheWireFormat() throws {
        let ca = try DevelopmentCA(trustDomain: TrustDomain(parsing: "example.org"))
        let other = try DevelopmentCA(trustDomain: TrustDomain(parsing: "other.org"))
        let svid = try ca.issue(SPIFFEID(parsing: "spiffe://example.org/spike/keeper"))
        let material = X509Material(svid: svid, bundles: X509BundleSet([ca.bundle, other.bundle]))
        let wire = try WorkloadAPI.X509SVIDResponse(material: material).serialized()
        let back = try WorkloadAPI.X509SVIDResponse(serialized: wire).material(generation: 7)
        #expect(back.svid.id == svid.id)
        #expect(back.svid.certificates == svid.certificates)
        #expect(back.svid.privateKey.publicKey == svid.privateKey.publicKey)
        #expect(back.bundles == material.bundles)
        #expect(back.generation == 7)
    }

    @Test func mismatchedIDOrKeyIsRefused() throws {
        let ca = try DevelopmentCA(trustDomain: TrustDomain(parsing: "example.org"))
        let svid = try ca.issue(SPIFFEID(parsing: "spiffe://example.org/a"))
        var response = try WorkloadAPI.X509SVIDResponse(material: X509Material(svid: svid, bundles: X509BundleSet([ca.bundle])))
        response.svids[0].spiffeID = "spiffe://example.org/b"
        #expect(throws: SPIFFEError.self) { try response.material(generation: 1) }
        response.svids[0].spiffeID = "spiffe://example.org/a"
        response.svids[0].privateKey = try ca.issue(SPIFFEID(parsing: "spiffe://example.org/a")).privateKey.pkcs8DERBytes()
        #expect(throws: SPIFFEError.self) { try response.material(generation: 1) }
        #expect(throws: SPIFFEError.self) { try WorkloadAPI.X509SVIDResponse(svids: []).material(generation: 1) }
    }

    @Test func x509BundlesResponseRoundTrips() throws {
        let ca = try DevelopmentCA(trustDomain: TrustDomain(parsing: "example.org"))
        let response = try WorkloadAPI.X509BundlesResponse(bundles: X509BundleSet([ca.bundle]))
        #expect(response.bundles.keys.sorted() == ["spiffe://example.org"])
        let decoded = try WorkloadAPI.X509BundlesResponse(serialized: response.serialized())
        #expect(decoded == response)
        #expect(try Certificate.splitDER(decoded.bundles["spiffe://example.org"]!, what: "bundle") == [ca.certificate])
    }
}
