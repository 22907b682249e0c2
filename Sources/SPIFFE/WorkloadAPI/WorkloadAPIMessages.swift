/// A Workload API message in its protobuf wire form.
public protocol WorkloadAPIMessage: Sendable {
    func serialized() -> [UInt8]
    init(serialized bytes: [UInt8]) throws(SPIFFEError)
}

/// The Workload API's X.509 messages (SPIFFE `workloadapi.proto`, unpackaged service
/// `SpiffeWorkloadAPI`): what `FetchX509SVID` and `FetchX509Bundles` stream.
public enum WorkloadAPI {
    /// Every request must carry this gRPC metadata; servers answer InvalidArgument without it.
    public static let securityHeader = (name: "workload.spiffe.io", value: "true")
    public static let serviceName = "SpiffeWorkloadAPI"
    /// `unix:///path` or `tcp://ip:port`.
    public static let endpointEnvironmentVariable = "SPIFFE_ENDPOINT_SOCKET"

    /// One SVID as the API carries it: DER certificates (leaf first), a PKCS#8 DER key, and the
    /// DER CA certificates of its trust domain, all concatenated.
    public struct X509SVIDMessage: Equatable, Sendable {
        public var spiffeID: String
        public var certificates: [UInt8]
        public var privateKey: [UInt8]
        public var bundle: [UInt8]
        public var hint: String

        public init(spiffeID: String, certificates: [UInt8], privateKey: [UInt8], bundle: [UInt8], hint: String = "") {
            self.spiffeID = spiffeID
            self.certificates = certificates
            self.privateKey = privateKey
            self.bundle = bundle
            self.hint = hint
        }
    }

    /// `X509SVIDResponse`: the whole current state; the first SVID is the default identity.
    public struct X509SVIDResponse: WorkloadAPIMessage, Equatable {
        public var svids: [X509SVIDMessage]
        public var crls: [[UInt8]]
        /// Trust domain name (or ID) → DER CA certificates, concatenated.
        public var federatedBundles: [String: [UInt8]]

        public init(svids: [X509SVIDMessage], crls: [[UInt8]] = [], federatedBundles: [String: [UInt8]] = [:]) {
            self.svids = svids
            self.crls = crls
            self.federatedBundles = federatedBundles
        }

        public func serialized() -> [UInt8] {
            var writer = ProtobufWire.Writer()
            for svid in svids {
                var inner = ProtobufWire.Writer()
                inner.string(1, svid.spiffeID)
                inner.bytes(2, svid.certificates)
                inner.bytes(3, svid.privateKey)
                inner.bytes(4, svid.bundle)
                inner.string(5, svid.hint)
                writer.message(1, inner.bytes)
            }
            for crl in crls { writer.bytes(2, crl, always: true) }
            for (domain, bundle) in federatedBundles.sorted(by: { $0.key < $1.key }) {
                writer.mapEntry(3, key: domain, value: bundle)
            }
            return writer.bytes
        }

        public init(serialized bytes: [UInt8]) throws(SPIFFEError) {
            do {
                var reader = ProtobufWire.Reader(bytes)
                var svids: [X509SVIDMessage] = []
                var crls: [[UInt8]] = []
                var federated: [String: [UInt8]] = [:]
                while let (number, type) = try reader.field() {
                    switch (number, type) {
                    case (1, .lengthDelimited):
                        var inner = ProtobufWire.Reader(try reader.lengthDelimited())
                        var svid = X509SVIDMessage(spiffeID: "", certificates: [], privateKey: [], bundle: [])
                        while let (field, kind) = try inner.field() {
                            switch (field, kind) {
                            case (1, .lengthDelimited): svid.spiffeID = try inner.string()
                            case (2, .lengthDelimited): svid.certificates = try inner.lengthDelimited()
                            case (3, .lengthDelimited): svid.privateKey = try inner.lengthDelimited()
                            case (4, .lengthDelimited): svid.bundle = try inner.lengthDelimited()
                            case (5, .lengthDelimited): svid.hint = try inner.string()
                            default: try inner.skip(kind)
                            }
                        }
                        svids.append(svid)
                    case (2, .lengthDelimited): crls.append(try reader.lengthDelimited())
                    case (3, .lengthDelimited):
                        let (domain, bundle) = try reader.mapEntry()
                        federated[domain] = bundle
                    default: try reader.skip(type)
                    }
                }
                self.init(svids: svids, crls: crls, federatedBundles: federated)
            } catch {
                throw .invalidSVID("malformed X509SVIDResponse: \(error)")
            }
        }
    }
}

extension WorkloadAPI {
    /// `X509BundlesResponse`: every trust domain's CA certificates (DER, concatenated), keyed by
    /// the trust domain's SPIFFE ID.
    public struct X509BundlesResponse: WorkloadAPIMessage, Equatable {
        public var crls: [[UInt8]]
        public var bundles: [String: [UInt8]]

        public init(crls: [[UInt8]] = [], bundles: [String: [UInt8]]) {
            self.crls = crls
            self.bundles = bundles
        }

        public init(bundles set: X509BundleSet) throws {
            self.init(bundles: try Dictionary(uniqueKeysWithValues: set.bundles.values.map {
                ($0.trustDomain.id.description, try $0.authorities.flatMap { try $0.derBytes() })
            }))
        }

        public func serialized() -> [UInt8] {
            var writer = ProtobufWire.Writer()
            for crl in crls { writer.bytes(1, crl, always: true) }
            for (domain, bundle) in bundles.sorted(by: { $0.key < $1.key }) {
                writer.mapEntry(2, key: domain, value: bundle)
            }
            return writer.bytes
        }

        public init(serialized bytes: [UInt8]) throws(SPIFFEError) {
            do {
                var reader = ProtobufWire.Reader(bytes)
                var crls: [[UInt8]] = []
                var bundles: [String: [UInt8]] = [:]
                while let (number, type) = try reader.field() {
                    switch (number, type) {
                    case (1, .lengthDelimited): crls.append(try reader.lengthDelimited())
                    case (2, .lengthDelimited):
                        let (domain, bundle) = try reader.mapEntry()
                        bundles[domain] = bundle
                    default: try reader.skip(type)
                    }
                }
                self.init(crls: crls, bundles: bundles)
            } catch {
                throw .invalidBundle("malformed X509BundlesResponse: \(error)")
            }
        }
    }
}
