import Hummingbird
import NIOCore
import SPIFFE

/// What a route knows of its request beyond the request itself: who is calling (the SPIFFE ID
/// the TLS handshake validated) and SPIKE's trail id for the events it writes.
public struct SPIFFERequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request came on.
    public let channel: any Channel
    /// SPIKE's trail id: 8 alphanumerics naming this request in the events it causes.
    public let trail: String
    /// Set by `PeerIdentityMiddleware`, which every server installs before any route.
    var peerID: SPIFFEID?
    /// Set by `PeerIdentityMiddleware` from the server's limits.
    public var maxUploadSize: Int = 1 << 20

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        channel = source.channel
        trail = Self.trailID()
    }

    /// The caller's SPIFFE ID.
    public var peer: SPIFFEID {
        guard let peerID else { preconditionFailure("a route ran before PeerIdentityMiddleware: HTTPServer.start installs it first") }
        return peerID
    }

    /// SPIKE's trail ids: 8 alphanumerics (from one random draw: this runs on every request).
    static func trailID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var bits = UInt64.random(in: 0...UInt64.max)
        var id = [UInt8](repeating: 0, count: 8)
        for index in id.indices {
            id[index] = alphabet[Int(bits % 36)]
            bits /= 36
        }
        return String(decoding: id, as: UTF8.self)
    }
}
