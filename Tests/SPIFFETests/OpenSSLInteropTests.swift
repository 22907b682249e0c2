import ChildProcesses
import Foundation
import Synchronization
import Testing
import X509
@testable import SPIFFE
import SPIFFETLS

/// A client we did not write: `openssl s_client` with an issued SVID completes mutual TLS with a
/// server built on the library, whose handler sees the client's SPIFFE ID; without a
/// certificate, with one from another trust domain, or with an expired one, it is refused.
@Suite final class OpenSSLInteropTests {
    let ca: DevelopmentCA
    let directory: String
    let clientID = try! SPIFFEID(parsing: "spiffe://example.org/workload/openssl")

    init() throws {
        ca = try DevelopmentCA(trustDomain: TrustDomain(parsing: "example.org"))
        directory = NSTemporaryDirectory() + "spiffe-openssl-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try ca.bundle.pem().write(toFile: directory + "/ca.pem", atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    private func server() async throws -> GreetingServer {
        let svid = try ca.issue(SPIFFEID(parsing: "spiffe://example.org/spike/nexus"))
        let source = StaticX509Source(svid: svid, bundles: X509BundleSet([ca.bundle]))
        return try await GreetingServer(tls: SPIFFETLS(role: .server, source: source, authorizer: .memberOf(ca.trustDomain)))
    }

    private func write(_ certificates: [Certificate], key: Certificate.PrivateKey, name: String) throws -> [String] {
        let svid = try X509SVID(certificates: certificates, privateKey: key)
        try svid.certificatesPEM().write(toFile: "\(directory)/\(name).pem", atomically: true, encoding: .utf8)
        try svid.privateKeyPEM().write(toFile: "\(directory)/\(name).key", atomically: true, encoding: .utf8)
        return ["-cert", "\(directory)/\(name).pem", "-key", "\(directory)/\(name).key"]
    }

    /// Runs s_client until it prints a line containing `hello` or ends; returns its output.
    private func sClient(port: Int, _ arguments: [String]) async throws -> String {
        let input = Pipe()
        let output = Pipe()
        let process = try ChildProcess(
            executable: "/usr/bin/openssl",
            arguments: ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", directory + "/ca.pem", "-verify_return_error", "-quiet"] + arguments,
            standardInput: .descriptor(input.fileHandleForReading.fileDescriptor),
            standardOutput: .descriptor(output.fileHandleForWriting.fileDescriptor))
        try output.fileHandleForWriting.close()
        let text = Mutex("")
        // A tolerance, not an assertion: every suite runs at once on two cores (seen: more than 10 s).
        let deadline = Date() + 30
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            text.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        // Polled with Task.sleep: blocking a thread of the cooperative pool could starve the
        // server's verification, which runs there.
        while Date() < deadline && process.isRunning && !text.withLock({ $0.contains("hello") }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        process.send(SIGKILL)
        while process.isRunning { try await Task.sleep(for: .milliseconds(10)) }
        output.fileHandleForReading.readabilityHandler = nil
        return text.withLock { $0 }
    }

    @Test func opensslClientWithAnSVIDIsGreetedByItsSPIFFEID() async throws {
        let server = try await server()
        let svid = try ca.issue(clientID)
        let output = try await sClient(port: server.port, write(svid.certificates, key: svid.privateKey, name: "client"))
        #expect(output.contains("hello \(clientID)"))
        try await server.stop()
    }

    @Test func opensslClientWithoutCertificateIsRefused() async throws {
        let server = try await server()
        let output = try await sClient(port: server.port, [])
        #expect(!output.contains("hello"))
        try await server.stop()
    }

    @Test func opensslClientOfAnotherTrustDomainIsRefused() async throws {
        let server = try await server()
        let other = try DevelopmentCA(trustDomain: TrustDomain(parsing: "other.org"))
        let svid = try other.issue(SPIFFEID(parsing: "spiffe://other.org/workload/openssl"))
        let output = try await sClient(port: server.port, write(svid.certificates, key: svid.privateKey, name: "foreign"))
        #expect(!output.contains("hello"))
        try await server.stop()
    }

    @Test func opensslClientWithAnExpiredSVIDIsRefused() async throws {
        let server = try await server()
        var template = DevelopmentCA.LeafTemplate(uris: [clientID.description])
        template.notValidBefore = Date() - 7200
        template.notValidAfter = Date() - 3600
        let (certificate, key) = try ca.issue(template)
        let output = try await sClient(port: server.port, write([certificate], key: key, name: "expired"))
        #expect(!output.contains("hello"))
        try await server.stop()
    }
}
