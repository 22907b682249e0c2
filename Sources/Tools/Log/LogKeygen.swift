import ArgumentParser
import Crypto
import EventLog

struct LogKeygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Create an X25519 log key: the private key in a 0600 file, the public key on stdout.",
        discussion: """
        Example:
          spike log keygen --out ~/.spike/auditor.key > auditor.pub
        """
    )

    @Option(name: .long, help: "Where to write the private key (must not exist).")
    var out: String

    func run() throws {
        let key = try LogKeyFile.create(at: out)
        print(LogKeyFile.pem(key.publicKey), terminator: "")
    }
}
