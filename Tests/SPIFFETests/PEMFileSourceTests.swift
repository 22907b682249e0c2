import Foundation
import Testing
@testable import SPIFFE

@Suite struct PEMFileSourceTests {
    @Test func readsAndRereadsRotatedFiles() throws {
        let ca = try DevelopmentCA(trustDomain: TrustDomain(parsing: "example.org"))
        let directory = NSTemporaryDirectory() + "spiffe-pem-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let id = try SPIFFEID(parsing: "spiffe://example.org/spike/keeper")
        func write(_ svid: X509SVID, modified: Date) throws {
            for (name, text) in [("svid.pem", try svid.certificatesPEM()), ("svid.key", try svid.privateKeyPEM())] {
                let path = "\(directory)/\(name)"
                try text.write(toFile: path, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: path)
            }
        }
        let first = try ca.issue(id)
        try write(first, modified: Date() - 100)
        try ca.bundle.pem().write(toFile: "\(directory)/bundle.pem", atomically: true, encoding: .utf8)
        let source = try PEMFileX509Source(
            certificatePath: "\(directory)/svid.pem", keyPath: "\(directory)/svid.key",
            bundlePath: "\(directory)/bundle.pem", recheck: .zero)
        let before = try source.material()
        #expect(before.svid.id == id)
        #expect(before.svid.certificates == first.certificates)
        #expect(before.bundles[ca.trustDomain]?.authorities == [ca.certificate])

        let second = try ca.issue(id)
        try write(second, modified: Date())
        let after = try source.material()
        #expect(after.svid.certificates == second.certificates)
        #expect(after.generation > before.generation)

        // A broken rotation keeps the last good material.
        try "garbage".write(toFile: "\(directory)/svid.pem", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date() + 5], ofItemAtPath: "\(directory)/svid.pem")
        #expect(try source.material().svid.certificates == second.certificates)

        #expect(throws: SPIFFEError.self) {
            try PEMFileX509Source(certificatePath: "\(directory)/missing.pem", keyPath: "\(directory)/svid.key", bundlePath: "\(directory)/bundle.pem")
        }
    }
}
