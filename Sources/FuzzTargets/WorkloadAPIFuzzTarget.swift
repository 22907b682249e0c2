import Foundation
import SPIFFE

/// The Workload API message decoders (the protobuf of `FetchX509SVID` and `FetchX509Bundles`)
/// and what a workload builds from them: an SVID, its key and the bundles. The agent on the
/// other end of the socket is the attacker here. The first input byte chooses the message. What
/// must hold: no crash; a message that decodes encodes to bytes that decode equal; building the
/// material from it answers or throws `SPIFFEError`.
public struct WorkloadAPIFuzzTarget: FuzzTarget {
    public static let name = "workload-api"

    public init() {}

    public func run(_ input: [UInt8]) throws(FuzzFinding) {
        guard let selector = input.first else { return }
        let bytes = Array(input.dropFirst())
        if selector & 1 == 0 {
            guard let message = try? WorkloadAPI.X509SVIDResponse(serialized: bytes) else { return }
            try expectRoundTrip(message)
            _ = try? message.material(generation: 1)
        } else {
            guard let message = try? WorkloadAPI.X509BundlesResponse(serialized: bytes) else { return }
            try expectRoundTrip(message)
        }
    }

    private func expectRoundTrip<Message: WorkloadAPIMessage & Equatable>(_ message: Message) throws(FuzzFinding) {
        let again: Message
        do {
            again = try Message(serialized: message.serialized())
        } catch {
            throw FuzzFinding(Self.name, "a decoded \(Message.self) encoded to bytes that do not decode: \(error)")
        }
        guard again == message else { throw FuzzFinding(Self.name, "a decoded \(Message.self) changed through encode and decode") }
    }

    /// A real message from a development CA, with a federated bundle, and a bundles message.
    public static func seeds() throws -> [[UInt8]] {
        let ca = try DevelopmentCA(trustDomain: TrustDomain(parsing: "example.org"))
        let other = try DevelopmentCA(trustDomain: TrustDomain(parsing: "other.org"))
        let svid = try ca.issue(SPIFFEID(parsing: "spiffe://example.org/spike/keeper"))
        let material = X509Material(svid: svid, bundles: X509BundleSet([ca.bundle, other.bundle]))
        return [
            [0] + (try WorkloadAPI.X509SVIDResponse(material: material).serialized()),
            [1] + (try WorkloadAPI.X509BundlesResponse(bundles: material.bundles).serialized()),
        ]
    }
}
