import Foundation
import NIOCore
import NIOSSL
import SPIFFE
import Synchronization
import SwiftASN1
import X509

/// Mutual TLS between SPIFFE workloads over swift-nio-ssl (go-spiffe's `tlsconfig`): each side
/// presents its X.509-SVID, requires the other's, validates it by the SPIFFE rules against the
/// bundle of the peer's trust domain during the handshake, and applies an `Authorizer` there too.
/// No hostname checks: SPIFFE IDs instead. TLS 1.2 at least, 1.3 preferred.
///
/// A `SPIFFETLS` value makes one handler per connection from the source's current material, so
/// an SVID rotation reaches new handshakes while open connections keep going.
public final class SPIFFETLS: Sendable {
    public enum Role: Sendable { case server, client }

    public let source: any X509Source
    public let authorizer: Authorizer
    public let role: Role
    private let cache = Mutex<(generation: UInt64, context: NIOSSLContext)?>(nil)

    public init(role: Role, source: any X509Source, authorizer: Authorizer) {
        self.role = role
        self.source = source
        self.authorizer = authorizer
    }

    /// The TLS handler for a new connection: add it first in the channel's pipeline.
    public func makeHandler() throws -> NIOSSLHandler {
        let material = try source.material()
        let context = try context(for: material)
        let bundles = material.bundles
        let authorizer = self.authorizer
        let verify: NIOSSLCustomVerificationCallbackWithMetadata = { certificates, promise in
            Task(executorPreference: EventLoopTaskExecutor(promise.futureResult.eventLoop)) {
                promise.succeed(await Self.verify(certificates, bundles: bundles, authorizer: authorizer))
            }
        }
        switch role {
        case .server:
            return NIOSSLServerHandler(context: context, customVerificationCallbackWithMetadata: verify)
        case .client:
            return try NIOSSLClientHandler(context: context, serverHostname: nil, customVerificationCallbackWithMetadata: verify)
        }
    }

    /// One context per generation of the source's material: building one costs milliseconds.
    private func context(for material: X509Material) throws -> NIOSSLContext {
        if let cached = cache.withLock({ $0 }), cached.generation == material.generation { return cached.context }
        let chain = try material.svid.certificates.map { NIOSSLCertificateSource.certificate(try NIOSSLCertificate(bytes: $0.derBytes(), format: .der)) }
        let key = NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(bytes: Array(try material.svid.privateKeyPEM().utf8), format: .pem))
        var configuration = switch role {
        case .server: TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
        case .client: TLSConfiguration.makeClientConfiguration()
        }
        configuration.certificateChain = chain
        configuration.privateKey = key
        configuration.minimumTLSVersion = .tlsv12
        // Peers must present a certificate; the custom callback replaces BoringSSL's checks.
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates([])
        let context = try NIOSSLContext(configuration: configuration)
        cache.withLock { $0 = (material.generation, context) }
        return context
    }

    static func verify(
        _ presented: [NIOSSLCertificate], bundles: X509BundleSet, authorizer: Authorizer
    ) async -> NIOSSLVerificationResultWithMetadata {
        do {
            let chain = try presented.map { try Certificate(derEncoded: $0.toDERBytes()) }
            let (id, path) = try await X509SVIDValidator.validatedChain(chain, bundles: bundles)
            try authorizer.check(id)
            let validated = try path.map { try NIOSSLCertificate(bytes: $0.derBytes(), format: .der) }
            return .certificateVerified(VerificationMetadata(ValidatedCertificateChain(validated)))
        } catch {
            return .failed
        }
    }
}

extension Channel {
    /// The SPIFFE ID of the peer, once the TLS handshake has validated it.
    public func spiffePeerID() -> EventLoopFuture<SPIFFEID?> {
        spiffePeer().map { $0?.id }
    }

    /// The peer's SPIFFE ID and when its X.509-SVID expires, once the handshake has validated it:
    /// a connection must not outlive the SVID it was opened with.
    public func spiffePeer() -> EventLoopFuture<(id: SPIFFEID, expires: Date)?> {
        eventLoop.submit { try self.pipeline.syncOperations.spiffePeer() }
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// `Channel.spiffePeer()`, on the channel's event loop.
    public func spiffePeer() throws -> (id: SPIFFEID, expires: Date)? {
        guard let leaf = try nioSSL_peerValidatedCertificateChain()?.first else { return nil }
        let certificate = try Certificate(derEncoded: leaf.toDERBytes())
        return (try X509SVIDValidator.checkLeaf(certificate), certificate.notValidAfter)
    }
}
