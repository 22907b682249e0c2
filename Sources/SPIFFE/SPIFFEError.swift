/// Errors of the SPIFFE library other than ID syntax, each saying what to fix.
public enum SPIFFEError: Error, Sendable, CustomStringConvertible {
    case invalidPEM(String)
    case invalidBundle(String)
    case invalidSVID(String)
    case noBundle(TrustDomain)
    case verificationFailed(String)
    case unauthorized(SPIFFEID)
    case sourceUnavailable(String)

    public var description: String {
        switch self {
        case .invalidPEM(let reason): "invalid PEM: \(reason)"
        case .invalidBundle(let reason): "invalid trust bundle: \(reason)"
        case .invalidSVID(let reason): "invalid X.509-SVID: \(reason)"
        case .noBundle(let domain): "no trust bundle for trust domain \(domain): add its CA certificates to the bundle set"
        case .verificationFailed(let reason): "the X.509-SVID does not verify: \(reason)"
        case .unauthorized(let id): "\(id) is not authorized here"
        case .sourceUnavailable(let reason): "no X.509-SVID available: \(reason)"
        }
    }
}
