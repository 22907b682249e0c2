import ArgumentParser
import Foundation
import Projections
import SpikeAPI
import SpikeClient

struct SecretCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Store, read and manage versioned secrets.",
        discussion: """
        The caller's identity comes from the Workload API (SPIFFE_ENDPOINT_SOCKET) or from PEM
        files (SPIKE_SVID_CERT_FILE, SPIKE_SVID_KEY_FILE, SPIKE_TRUST_BUNDLE_FILE); the Nexus is at
        SPIKE_NEXUS_API_URL. A superuser may do anything; other workloads need a policy.
        Every error exits non-zero.
        """,
        subcommands: [SecretPut.self, SecretGet.self, SecretList.self, SecretDelete.self, SecretUndelete.self,
                      SecretDestroy.self, SecretMetadata.self]
    )

    /// A comma-separated version list: non-negative integers.
    static func versions(_ text: String) throws -> [Int] {
        try text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { item in
            guard let number = Int(item), number >= 0 else {
                throw CommandFailure("Invalid version number: \(item) (versions are non-negative integers)")
            }
            return number
        }
    }

    static func checkPath(_ path: String) throws {
        guard Validation.isValidSecretPath(path) else {
            throw CommandFailure("Invalid secret path: \(path) (letters, digits and . _ - / ( ) ? + * | [ ] { } \\ only, at most 500 bytes)")
        }
    }
}

struct SecretPut: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "put",
        abstract: "Write a new version of a secret.",
        discussion: """
        Each value is KEY=VALUE (split at the first '='); keys are letters, digits, '-', '_' and
        spaces. A command line shows in process listings: for a real secret write KEY=- to read
        the value from standard input (one key at most) or KEY=@FILE to read it from a file
        (trailing newlines are dropped). Every put makes a new version; the oldest beyond the
        Nexus' limit are erased.
        Examples:
          spike secret put apps/db/creds username=app password=-     # the password from stdin
          spike secret put apps/db/creds username=app password=@./db-password
          spike secret put apps/db/creds password=rotated --cas 1   # only if version 1 is current
        """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The secret's path, e.g. apps/db/creds.") var path: String
    @Argument(help: "KEY=VALUE pairs.") var pairs: [String]
    @Option(name: .long, help: "Check-and-set: write only if this is the current version (0: only if there is none).") var cas: Int?

    func validate() throws {
        guard !pairs.isEmpty else { throw ValidationError("give at least one KEY=VALUE pair") }
    }

    func run() async throws {
        try SecretCommand.checkPath(path)
        var values: [String: String] = [:]
        var readStandardInput = false
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "=") else { throw CommandFailure("Invalid key-value pair: \(pair)") }
            let key = String(pair[..<equals])
            let value = pair[pair.index(after: equals)...]
            if value == "-" {
                guard !readStandardInput else { throw CommandFailure("Only one value can come from standard input (\(key)=-)") }
                readStandardInput = true
                values[key] = try Self.trimmed(Self.text(FileHandle.standardInput.readDataToEndOfFile(), from: "standard input", key: key))
            } else if value.hasPrefix("@") {
                let file = String(value.dropFirst())
                guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file) (the value of \(key))") }
                // A file's bytes exactly, trailing newlines included, as Vault's `@file` does.
                values[key] = try Self.text(data, from: file, key: key)
            } else {
                values[key] = String(value)
            }
        }
        let request = SecretPutRequest(path: path, values: values, cas: cas)
        _ = try await NexusAPI.using { try await $0.call(.secretPut, request, as: EmptyRequest.self) }
        print("OK")
    }
}

extension SecretPut {
    /// A value read from standard input, without the trailing newlines echo or a terminal adds.
    static func trimmed(_ text: String) -> String {
        var text = text
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        return text
    }

    /// The bytes as text, unchanged. SPIKE's API carries values as JSON strings: bytes that are
    /// not UTF-8 cannot cross it, and are refused rather than replaced (which would store
    /// something else than the file).
    static func text(_ data: Data, from source: String, key: String) throws -> String {
        guard let text = String(validating: data, as: UTF8.self) else {
            let encoded = source == "standard input" ? "base64" : "base64 \(source) > \(source).b64, then \(key)=@\(source).b64"
            throw CommandFailure("\(source) (the value of \(key)) is not UTF-8 text, and secret values cross the API as JSON strings: "
                + "nothing was written; store it encoded (\(encoded))")
        }
        return text
    }
}

struct SecretGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Read a secret (its current version unless --version is given).",
        discussion: """
        Examples:
          spike secret get apps/db/creds
          spike secret get apps/db/creds password          # just one value
          spike secret get apps/db/creds -v 1 --format json
        """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The secret's path.") var path: String
    @Argument(help: "Print only this key's value.") var key: String?
    @Option(name: [.short, .long], help: "The version to read (0: the current one).") var version = 0
    @Option(name: [.short, .long], help: ArgumentHelp(stringLiteral: OutputFormat.help)) var format = "human"

    func run() async throws {
        let format = try OutputFormat(parsing: format)
        try SecretCommand.checkPath(path)
        guard version >= 0 else { throw CommandFailure("Invalid version number: \(version)") }
        let response = try await NexusAPI.using {
            try await $0.call(.secretGet, SecretReadRequest(path: path, version: version), as: SecretGetResponse.self)
        }
        let data = response.data ?? [:]
        if let key {
            guard let value = data[key] else { throw CommandFailure("Key not found.") }
            print(try format.render(value) ?? value)
        } else {
            print(try format.render(data) ?? data.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n"))
        }
    }
}

struct SecretList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the paths of every stored secret.",
        discussion: """
        Needs the superuser role or a policy granting `list` on spike/system/secret.
        Examples:
          spike secret list
          spike secret list -f json
        """
    )

    @OptionGroup var client: ClientOptions

    @Option(name: [.short, .long], help: ArgumentHelp(stringLiteral: OutputFormat.help)) var format = "human"

    func run() async throws {
        let format = try OutputFormat(parsing: format)
        let keys = try await NexusAPI.using { try await $0.call(.secretList, EmptyRequest(), as: SecretListResponse.self) }.keys
        if let rendered = try format.render(keys) {
            print(rendered)
        } else {
            print(keys.isEmpty ? "No secrets found." : keys.map { "- \($0)" }.joined(separator: "\n"))
        }
    }
}

/// Delete, undelete and destroy: the same shape, different routes.
struct SecretDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Soft-delete versions of a secret (they can be undeleted).",
        discussion: """
        Examples:
          spike secret delete apps/db/creds            # the current version
          spike secret delete apps/db/creds -v 1,2,3
        """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The secret's path.") var path: String
    @Option(name: [.short, .long], help: "Comma-separated versions; 0 is the current one.") var versions = "0"

    func run() async throws {
        try await SecretDelete.change(path, versions, route: .secretDelete)
        print("OK")
    }

    static func change(_ path: String, _ versions: String, route: APIRoute) async throws {
        try SecretCommand.checkPath(path)
        let request = SecretVersionsRequest(path: path, versions: try SecretCommand.versions(versions))
        _ = try await NexusAPI.using { try await $0.call(route, request, as: EmptyRequest.self) }
    }
}

struct SecretUndelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "undelete",
        abstract: "Restore soft-deleted versions of a secret.",
        discussion: """
        Without --versions the newest deleted version comes back (SPIKE's default of the current
        version, which is never deleted, almost always failed).
        Examples:
          spike secret undelete apps/db/creds
          spike secret undelete apps/db/creds -v 2
        """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The secret's path.") var path: String
    @Option(name: [.short, .long], help: "Comma-separated versions (default: the newest deleted one).") var versions = ""

    func run() async throws {
        try await SecretDelete.change(path, versions, route: .secretUndelete)
        print("OK")
    }
}

struct SecretDestroy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy",
        abstract: "Erase versions of a secret for good (their keys are shredded; no undelete).",
        discussion: """
        The events stay in the log for the audit trail, but the values they carry can never be
        opened again.
        Examples:
          spike secret destroy apps/db/creds -v 1
        """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The secret's path.") var path: String
    @Option(name: [.short, .long], help: "Comma-separated versions; 0 is the current one.") var versions = "0"

    func run() async throws {
        try await SecretDelete.change(path, versions, route: .secretDestroy)
        print("OK")
    }
}

struct SecretMetadata: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metadata",
        abstract: "Read a secret's metadata.",
        subcommands: [SecretMetadataGet.self]
    )
}

struct SecretMetadataGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show a secret's versions and their times.",
        discussion: """
        Examples:
          spike secret metadata get apps/db/creds
          spike secret metadata get apps/db/creds -f yaml
        """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The secret's path.") var path: String
    @Option(name: [.short, .long], help: "Fail unless this version is readable (0: the current one).") var version = 0
    @Option(name: [.short, .long], help: ArgumentHelp(stringLiteral: OutputFormat.help)) var format = "human"

    func run() async throws {
        let format = try OutputFormat(parsing: format)
        try SecretCommand.checkPath(path)
        let metadata = try await NexusAPI.using {
            try await $0.call(.secretMetadata, SecretReadRequest(path: path, version: version), as: SecretMetadataResponse.self)
        }
        print(try format.render(metadata) ?? Self.human(metadata))
    }

    static func human(_ metadata: SecretMetadataResponse) -> String {
        var lines = ["", "Metadata:", String(repeating: "-", count: 50)]
        let summary = metadata.metadata
        lines += [
            "Current Version : \(summary.currentVersion)",
            "Oldest Version  : \(summary.oldestVersion)",
            "Created Time    : \(HumanTime.format(summary.createdTime))",
            "Last Updated    : \(HumanTime.format(summary.updatedTime))",
            "Max Versions    : \(summary.maxVersions)",
        ]
        if !metadata.versions.isEmpty {
            lines += ["", "Secret Versions:", String(repeating: "-", count: 50)]
            for version in metadata.versions.values.sorted(by: { $0.version < $1.version }) {
                lines.append("Version \(version.version):")
                lines.append("  Created: \(HumanTime.format(version.createdTime))")
                if let deleted = version.deletedTime { lines.append("  Deleted: \(HumanTime.format(deleted))") }
                if version.destroyed == true { lines.append("  Destroyed") }
            }
        }
        return lines.joined(separator: "\n")
    }
}
