import ArgumentParser
import Foundation
import NexusCore
import NIOHTTP1
import SpikeAPI
import SpikeClient

/// `spike recover`: the way back when the Nexus and every Keeper are gone (DESIGN §1).
struct RecoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Give a sealed Nexus its root key back with an admin password (recover role).",
        discussion: """
        For a Nexus that stays sealed because its Keepers lost their shares (every process was
        lost, or the Keepers restarted while the Nexus was down). The Nexus unwraps the root key
        from its log with the password, checks it, becomes ready and sends every Keeper its share
        again. Wrong passwords are refused and recorded; after a few, attempts are spaced out.
        The password is read from --password-file, a hidden prompt on a terminal, or standard
        input; never from an argument. Needs the recover role (SPIKE's superuser may not).
          spike recover
          spike recover --password-file ~/.spike/admin-password
        """)

    @Option(name: .long, help: "A file holding the admin password (trailing newlines are ignored).")
    var passwordFile: String?

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let password = try PasswordInput.read(file: passwordFile, prompt: "Admin password: ")
        let api = try await NexusAPI.connect(as: .recover)
        defer { api.close() }
        let response = try await api.post(.passwordRecover, PasswordRecoveryRequest(password: password))
        switch (response.status.code, NexusAPI.errorCode(response)) {
        case (200, _):
            let admin = (try? JSONDecoder().decode(PasswordRecoveryResponse.self, from: Data(response.body)))?.admin ?? "an admin"
            print("recovered: the root key is back (the password of \(admin)); the Nexus is ready and sends its Keepers their shares")
        case (_, .passwordIncorrect):
            throw CommandFailure("the password does not unwrap the root key (the attempt is recorded in the log)")
        case (_, .tooManyAttempts):
            let wait = response.headers.first(name: "Retry-After").map { " in \($0) s" } ?? " later"
            throw CommandFailure("too many wrong passwords: try again\(wait)")
        case (_, .notSealed):
            throw CommandFailure("the Nexus is not sealed: it holds its root key already, or the system is not initialized (`spike init`)")
        case (401, _):
            throw CommandFailure("the Nexus refused \(api.caller): recovery needs the recover role")
        case (let code, let error):
            throw CommandFailure("the Nexus answered \(code) \(error?.rawValue ?? "")")
        }
    }
}
