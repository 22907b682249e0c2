import ArgumentParser
import Foundation
import NexusCore
import NIOHTTP1
import Projections
import SpikeAPI
import SpikeClient

/// What the admin commands share: the superuser's connection and the answers' messages.
enum AdminPasswords {
    /// Sends one admin change as the superuser; a refusal becomes a sentence that says what to do.
    static func send(_ route: APIRoute, _ request: AdminPasswordRequest) async throws {
        let api = try await NexusAPI.connect(as: .superuser)
        defer { api.close() }
        let response = try await api.post(route, request)
        let name = request.name
        switch (response.status.code, NexusAPI.errorCode(response)) {
        case (200, _): return
        case (_, .adminExists): throw CommandFailure("an admin named \(name) exists already: use `spike admin password change \(name)`")
        case (_, .entityNotFound): throw CommandFailure("there is no admin named \(name) (`spike admin password list` shows them)")
        case (_, .lastAdmin): throw CommandFailure("\(name) is the last admin: add another before removing them")
        case (_, .passwordTooWeak): throw CommandFailure("the password is refused: it needs \(PasswordRule.statement)")
        case (_, .tooManyAttempts): throw CommandFailure("another admin change is being made: try again")
        case (400, _): throw CommandFailure("Invalid request: an admin name has 1 to 128 characters and no control characters.")
        default: throw APIFailure.failure(response)
        }
    }
}

/// What `add` and `change` take: the admin and where the password comes from.
struct AdminPasswordOptions: ParsableArguments {
    @Argument(help: "The admin's name (as reports and `list` show it).")
    var name: String
    @Option(name: .long, help: "A file holding the password (trailing newlines are ignored).")
    var passwordFile: String?

    /// Reads the password and sends it on `route` for the admin.
    func send(_ route: APIRoute, prompt: String) async throws {
        let password = try PasswordInput.read(file: passwordFile, prompt: prompt)
        if let why = PasswordRule.refusal(of: password) { throw CommandFailure("the password is refused: \(why)") }
        try await AdminPasswords.send(route, AdminPasswordRequest(name: name, password: password))
    }
}

struct AdminPasswordAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add an admin whose password recovers the root key.")

    @OptionGroup var admin: AdminPasswordOptions

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await admin.send(.adminAdd, prompt: "Password for \(admin.name): ")
        print("added: \(admin.name)'s password now recovers the root key (`spike recover`)")
    }
}

struct AdminPasswordChange: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "change", abstract: "Change an admin's password (the old one stops working).")

    @OptionGroup var admin: AdminPasswordOptions

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await admin.send(.adminChange, prompt: "New password for \(admin.name): ")
        print("changed: \(admin.name)'s new password recovers the root key; the old one no longer does")
    }
}

struct AdminPasswordRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove an admin (never the last one).")

    @Argument(help: "The admin's name.")
    var name: String

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await AdminPasswords.send(.adminRemove, AdminPasswordRequest(name: name))
        print("removed: \(name)'s password no longer recovers the root key")
    }
}

struct AdminPasswordList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "The admins, with when each password was set.")

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = try await NexusAPI.connect(as: .superuser)
        defer { api.close() }
        let response = try await api.call(.adminList, EmptyRequest(), as: AdminListResponse.self)
        for admin in response.admins {
            print("\(admin.name)\t\(admin.since ?? "-")")
        }
    }
}
