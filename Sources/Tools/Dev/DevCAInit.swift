import ArgumentParser
import Foundation
import SPIFFE

struct DevCAInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a trust domain CA: ca.pem, ca.key (0600) and bundle.pem in --dir.",
        discussion: """
        Example:
          spike dev ca init --dir ~/.spike/dev-ca --trust-domain spike.ist
        """
    )

    @Option(name: .long, help: "Where to write the CA (created if missing; existing CA files are never overwritten).")
    var dir: String
    @Option(name: .long, help: "The trust domain, e.g. spike.ist.")
    var trustDomain: String = "spike.ist"
    @Option(name: .long, help: "How long the CA is valid, in days.")
    var days: Int = 365

    func run() throws {
        let domain = try TrustDomain(parsing: trustDomain)
        let ca = try DevelopmentCA(trustDomain: domain, lifetime: TimeInterval(days) * 86400)
        let (certificate, key) = try ca.pem()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try DevFiles.create(DevFiles.path(dir, "ca.key"), key, mode: 0o600)
        try DevFiles.create(DevFiles.path(dir, "ca.pem"), certificate, mode: 0o644)
        try DevFiles.create(DevFiles.path(dir, "bundle.pem"), certificate, mode: 0o644)
        print("trust domain \(domain): CA in \(dir) (ca.pem, ca.key, bundle.pem)")
    }
}

/// Writing the development trust domain's files: new files only, with the given mode from the
/// start (a key is never readable by others, not even for a moment).
enum DevFiles {
    static func path(_ directory: String, _ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }

    static func create(_ path: String, _ text: String, mode: mode_t, replace: Bool = false) throws {
        if !replace, FileManager.default.fileExists(atPath: path) {
            throw CommandFailure("cannot create \(path): it exists; remove it first")
        }
        try OutputFile.write(Array(text.utf8), to: path, mode: mode)
    }

    /// The CA that `spike dev ca init` wrote into `directory`.
    static func loadCA(_ directory: String) throws -> DevelopmentCA {
        try DevelopmentCA(certificatePEM: read(path(directory, "ca.pem")), keyPEM: read(path(directory, "ca.key")))
    }

    static func read(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CommandFailure("cannot read \(path)")
        }
        return text
    }
}
