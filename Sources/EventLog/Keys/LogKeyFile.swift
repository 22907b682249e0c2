import Crypto
import Foundation

/// X25519 log keys as PEM files: PKCS#8 `PRIVATE KEY` and SubjectPublicKeyInfo `PUBLIC KEY`
/// (RFC 8410), readable by OpenSSL and Python's `cryptography`.
public enum LogKeyFile {
    // DER prefixes of the two fixed-size RFC 8410 structures for X25519 (OID 1.3.101.110).
    private static let privatePrefix: [UInt8] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]
    private static let publicPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]

    public static func pem(_ key: Curve25519.KeyAgreement.PrivateKey) -> String {
        armor(privatePrefix + key.rawRepresentation, label: "PRIVATE KEY")
    }

    public static func pem(_ key: Curve25519.KeyAgreement.PublicKey) -> String {
        armor(publicPrefix + key.rawRepresentation, label: "PUBLIC KEY")
    }

    public static func privateKey(pem: String) throws(LogError) -> Curve25519.KeyAgreement.PrivateKey {
        let der = try unarmor(pem, label: "PRIVATE KEY")
        guard der.count == privatePrefix.count + 32, Array(der.prefix(privatePrefix.count)) == privatePrefix,
              let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: der.suffix(32))
        else { throw .invalidKeyFile("not an X25519 PKCS#8 private key") }
        return key
    }

    public static func publicKey(pem: String) throws(LogError) -> Curve25519.KeyAgreement.PublicKey {
        let der = try unarmor(pem, label: "PUBLIC KEY")
        guard der.count == publicPrefix.count + 32, Array(der.prefix(publicPrefix.count)) == publicPrefix,
              let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: der.suffix(32))
        else { throw .invalidKeyFile("not an X25519 public key") }
        return key
    }

    /// Writes a new private key to `path` with mode 0600, refusing to overwrite an existing file.
    public static func create(at path: String) throws(LogError) -> Curve25519.KeyAgreement.PrivateKey {
        let key = Curve25519.KeyAgreement.PrivateKey()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw .invalidKeyFile("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array(pem(key).utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw .invalidKeyFile("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        return key
    }

    public static func readPrivateKey(at path: String) throws(LogError) -> Curve25519.KeyAgreement.PrivateKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .invalidKeyFile("cannot read \(path)")
        }
        return try privateKey(pem: text)
    }

    private static func armor(_ der: [UInt8], label: String) -> String {
        "-----BEGIN \(label)-----\n\(Data(der).base64EncodedString())\n-----END \(label)-----\n"
    }

    private static func unarmor(_ pem: String, label: String) throws(LogError) -> [UInt8] {
        let begin = "-----BEGIN \(label)-----"
        let end = "-----END \(label)-----"
        guard let start = pem.range(of: begin), let stop = pem.range(of: end), start.upperBound <= stop.lowerBound else {
            throw .invalidKeyFile("no \(label) PEM block")
        }
        let body = pem[start.upperBound..<stop.lowerBound].filter { !$0.isWhitespace }
        guard let der = Data(base64Encoded: String(body)) else { throw .invalidKeyFile("bad base64 in the PEM block") }
        return Array(der)
    }
}
