import Foundation
import Synchronization
import X509

/// What a workload proves itself with and trusts, at one moment.
public struct X509Material: Sendable {
    public var svid: X509SVID
    public var bundles: X509BundleSet
    /// Changes whenever the SVID or the bundles change: TLS contexts are rebuilt when it does.
    public var generation: UInt64

    public init(svid: X509SVID, bundles: X509BundleSet, generation: UInt64 = 0) {
        self.svid = svid
        self.bundles = bundles
        self.generation = generation
    }
}

/// A source of X.509-SVIDs and bundles that may rotate (go-spiffe's `X509Source`): PEM files, the
/// Workload API, or a value set in code.
public protocol X509Source: Sendable {
    /// The current SVID and bundles.
    func material() throws(SPIFFEError) -> X509Material
}

/// A source whose material is set in code: for tests, and the base of the other sources.
public final class StaticX509Source: X509Source {
    private let state: Mutex<X509Material>

    public init(svid: X509SVID, bundles: X509BundleSet) {
        state = Mutex(X509Material(svid: svid, bundles: bundles, generation: 1))
    }

    public func material() -> X509Material { state.withLock { $0 } }

    /// Replaces the SVID and bundles (a rotation); new TLS handshakes use them.
    public func update(svid: X509SVID, bundles: X509BundleSet? = nil) {
        state.withLock { material in
            material.svid = svid
            if let bundles { material.bundles = bundles }
            material.generation += 1
        }
    }
}

/// An SVID and bundle from PEM files (a chain with the leaf first, its key, the trust domain's CA
/// certificates), read again when any of them changes.
public final class PEMFileX509Source: X509Source {
    public let certificatePath: String
    public let keyPath: String
    public let bundlePath: String
    private let state: Mutex<(material: X509Material, stamp: [Date], checked: ContinuousClock.Instant)>
    private let recheck: Duration

    /// Reads the files now (failing with the reason if they are unusable) and again, at most once
    /// per `recheck`, when their modification times change.
    public init(certificatePath: String, keyPath: String, bundlePath: String, recheck: Duration = .seconds(1)) throws(SPIFFEError) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.bundlePath = bundlePath
        self.recheck = recheck
        let stamp = Self.stamp([certificatePath, keyPath, bundlePath])
        let material = try Self.read(certificatePath, keyPath, bundlePath, generation: 1)
        state = Mutex((material, stamp, ContinuousClock.now))
    }

    public func material() throws(SPIFFEError) -> X509Material {
        let paths = [certificatePath, keyPath, bundlePath]
        return try state.withLock { (state) throws(SPIFFEError) -> X509Material in
            let now = ContinuousClock.now
            guard state.checked.duration(to: now) >= recheck else { return state.material }
            state.checked = now
            let stamp = Self.stamp(paths)
            guard stamp != state.stamp else { return state.material }
            // A half-written rotation keeps the previous material until the files are whole.
            if let fresh = try? Self.read(certificatePath, keyPath, bundlePath, generation: state.material.generation + 1) {
                state.material = fresh
                state.stamp = stamp
            }
            return state.material
        }
    }

    private static func stamp(_ paths: [String]) -> [Date] {
        paths.map { ((try? FileManager.default.attributesOfItem(atPath: $0))?[.modificationDate] as? Date) ?? .distantPast }
    }

    private static func read(_ certificate: String, _ key: String, _ bundle: String, generation: UInt64) throws(SPIFFEError) -> X509Material {
        func text(_ path: String) throws(SPIFFEError) -> String {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw .sourceUnavailable("cannot read \(path)")
            }
            return text
        }
        let svid = try X509SVID(certificatePEM: text(certificate), keyPEM: text(key))
        let authorities = try X509Bundle(trustDomain: svid.id.trustDomain, pem: text(bundle))
        return X509Material(svid: svid, bundles: X509BundleSet([authorities]), generation: generation)
    }
}
