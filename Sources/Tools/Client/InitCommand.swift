import ArgumentParser
import Foundation
import NexusCore
import NIOHTTP1
import Projections
import SPIFFEWorkloadAPI
import SpikeAPI
import SpikeClient

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Initialize a new system with the admin password (superuser role).",
        discussion: """
        The Nexus generates the root key, records the genesis of the log (the root key wrapped
        under the password with scrypt, and its key check value), splits the root key and sends
        each Keeper its share. Keep the password safe: with it, `spike recover` gets the root key
        back even when every Keeper is lost. It needs at least 12 characters.
        The password is read from --password-file, a hidden prompt on a terminal, or standard input.
        Examples:
          spike init --password-file ~/.spike/admin-password
          printf '%s' "$PASSWORD" | spike init
        """
    )

    @OptionGroup var client: ClientOptions

    @Option(name: .long, help: "A file holding the admin password (trailing newlines are ignored).")
    var passwordFile: String?

    func run() async throws {
        let password = try Self.readPassword(file: passwordFile)
        let api = try await NexusAPI.connect(as: .superuser)
        defer { api.close() }
        try await Self.initialize(api, password: password)
        print("initialized: the root key is generated and its shares are on their way to the Keepers")
    }

    static func initialize(_ api: NexusAPI, password: String) async throws {
        let response = try await api.post(.initialize, InitializationRequest(password: password))
        switch (response.status.code, NexusAPI.errorCode(response)) {
        case (200, _): return
        case (_, .alreadyInitialized): throw CommandFailure("the system is already initialized")
        case (_, .passwordTooWeak):
            throw CommandFailure("the password is refused: it needs \(PasswordRule.statement)")
        case (401, _): throw CommandFailure("the Nexus refused \(api.caller): initialization needs the superuser role")
        case (let code, let error): throw CommandFailure("the Nexus answered \(code) \(error?.rawValue ?? "")")
        }
    }

    static func readPassword(file: String?) throws -> String {
        let password = try PasswordInput.read(file: file, prompt: "New admin password: ")
        if let why = PasswordRule.refusal(of: password) { throw CommandFailure("the admin password is refused: \(why)") }
        return password
    }
}
