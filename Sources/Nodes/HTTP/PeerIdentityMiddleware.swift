import Hummingbird
import NIOCore
import SPIFFE
import SPIFFETLS
import SpikeAPI
import Synchronization

/// Puts the caller's SPIFFE ID (validated by the TLS handshake) and the server's body limit in
/// each request's context. The ID is read from the TLS handler once per connection and kept
/// until the connection closes: it cannot change on an open connection.
struct PeerIdentityMiddleware: RouterMiddleware {
    typealias Context = SPIFFERequestContext

    let maxBodySize: Int
    private let peers = PeerIdentities()

    init(maxBodySize: Int) {
        self.maxBodySize = maxBodySize
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        guard let peer = try await peers.peer(of: context.channel) else {
            // Unreachable with SPIFFETLS's verification (a certificate is required); refuse anyway.
            throw APIFailure(.unauthorized)
        }
        context.peerID = peer
        context.maxUploadSize = maxBodySize
        return try await next(request, context)
    }
}

/// The validated peer of each open connection.
private final class PeerIdentities: Sendable {
    private let known = Mutex<[ObjectIdentifier: SPIFFEID]>([:])

    func peer(of channel: any Channel) async throws -> SPIFFEID? {
        let key = ObjectIdentifier(channel)
        if let peer = known.withLock({ $0[key] }) { return peer }
        guard let peer = try await channel.spiffePeerID().get() else { return nil }
        known.withLock { $0[key] = peer }
        // The closure holds the channel, so its identifier cannot be reused before the entry goes.
        channel.closeFuture.whenComplete { [channel] _ in
            _ = channel
            self.known.withLock { _ = $0.removeValue(forKey: key) }
        }
        return peer
    }
}
