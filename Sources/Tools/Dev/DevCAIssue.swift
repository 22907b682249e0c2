import ArgumentParser
import Foundation
import SPIFFE

struct DevCAIssue: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issue",
        abstract: "Issue a short-lived X.509-SVID: PREFIX.pem (chain) and PREFIX.key (0600).",
        discussion: """
        Example:
          spike dev ca issue --dir ~/.spike/dev-ca --id spiffe://spike.ist/spike/nexus --out /tmp/nexus
        """
    )

    @Option(name: .long, help: "The CA directory made by `spike dev ca init`.")
    var dir: String
    @Option(name: .long, help: "The SPIFFE ID to issue for (in the CA's trust domain).")
    var id: String
    @Option(name: .long, help: "Path prefix of the files to write (PREFIX.pem, PREFIX.key); existing ones are replaced.")
    var out: String
    @Option(name: .long, help: "Lifetime in seconds.")
    var ttl: Int = 3600

    func validate() throws {
        guard ttl > 0 else { throw ValidationError("--ttl must be positive") }
    }

    func run() throws {
        let ca = try DevFiles.loadCA(dir)
        let svid = try ca.issue(SPIFFEID(parsing: id), lifetime: TimeInterval(ttl))
        try DevFiles.create(out + ".key", svid.privateKeyPEM(), mode: 0o600, replace: true)
        try DevFiles.create(out + ".pem", svid.certificatesPEM(), mode: 0o644, replace: true)
        print("issued \(svid.id) valid for \(ttl) s: \(out).pem, \(out).key")
    }
}
