import ArgumentParser
import Foundation
import NIOHTTP1
import Projections
import SpikeAPI
import SpikeClient
import Yams

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Manage the policies that grant workloads access to paths.",
        discussion: """
        A policy grants permissions (read, write, list, execute, super) to callers whose SPIFFE ID
        matches its SPIFFE ID pattern, on paths matching its path pattern. Patterns are regular
        expressions matched anywhere in the text: anchor them with ^…$. Needs the superuser role
        (or a policy on spike/system/acl).
        """,
        subcommands: [PolicyCreate.self, PolicyApply.self, PolicyGet.self, PolicyList.self, PolicyDelete.self]
    )

    static func put(_ request: PolicyPutRequest) async throws {
        _ = try await NexusAPI.using { try await $0.call(.policyPut, request, as: EmptyRequest.self) }
    }

    /// The four flags of `create` and `apply`: all needed, permissions checked here first.
    static func request(name: String?, spiffeidPattern: String?, pathPattern: String?, permissions: String?, allRequired: String) throws -> PolicyPutRequest {
        let missing = [("--name", name), ("--spiffeid-pattern", spiffeidPattern), ("--path-pattern", pathPattern), ("--permissions", permissions)]
            .filter { $0.1 == nil }.map(\.0)
        guard missing.isEmpty, let name, let spiffeidPattern, let pathPattern, let permissions else {
            throw CommandFailure(allRequired + "\n" + missing.map { "  \($0) is missing" }.joined(separator: "\n"))
        }
        let parsed: [Permission]
        do { parsed = try Validation.parsePermissions(permissions) } catch { throw CommandFailure(error.description) }
        return PolicyPutRequest(name: name, spiffeidPattern: spiffeidPattern, pathPattern: pathPattern, permissions: parsed.map(\.rawValue))
    }
}

struct PolicyCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a policy (refused if one has the name).",
        discussion: #"""
        Examples:
          spike policy create --name web-read \
            --spiffeid-pattern '^spiffe://example\.org/web$' \
            --path-pattern '^apps/web/.*$' --permissions read,list
        """#
    )

    @OptionGroup var client: ClientOptions

    @Option(name: .long, help: "The policy's name.") var name: String?
    @Option(name: .customLong("spiffeid-pattern"), help: "Regular expression for the callers' SPIFFE IDs.") var spiffeidPattern: String?
    @Option(name: .customLong("path-pattern"), help: "Regular expression for the paths.") var pathPattern: String?
    @Option(name: .long, help: "Comma-separated: read, write, list, execute, super.") var permissions: String?

    func run() async throws {
        let request = try PolicyCommand.request(name: name, spiffeidPattern: spiffeidPattern, pathPattern: pathPattern,
                                                permissions: permissions, allRequired: "All flags are required.")
        try await NexusAPI.using { api in
            let existing = try await api.post(.policyGet, PolicyNameRequest(id: request.name))
            if existing.status == .ok { throw CommandFailure("Policy '\(request.name)' already exists.") }
            _ = try await api.call(.policyPut, request, as: EmptyRequest.self)
        }
        print("Policy created successfully.")
    }
}

struct PolicyApply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create or replace a policy, from a YAML file or from flags.",
        discussion: #"""
        The YAML file has the keys name, spiffeidPattern, pathPattern and permissions (a list).
        Examples:
          spike policy apply --file web-read.yaml
        with web-read.yaml:
          name: web-read
          spiffeidPattern: ^spiffe://example\.org/web$
          pathPattern: ^apps/web/.*$
          permissions: [read, list]
        """#
    )

    @OptionGroup var client: ClientOptions

    @Option(name: .long, help: "A YAML policy file.") var file: String?
    @Option(name: .long, help: "The policy's name.") var name: String?
    @Option(name: .customLong("spiffeid-pattern"), help: "Regular expression for the callers' SPIFFE IDs.") var spiffeidPattern: String?
    @Option(name: .customLong("path-pattern"), help: "Regular expression for the paths.") var pathPattern: String?
    @Option(name: .long, help: "Comma-separated: read, write, list, execute, super.") var permissions: String?

    func run() async throws {
        let request: PolicyPutRequest
        if let file {
            request = try Self.read(file: file)
        } else {
            request = try PolicyCommand.request(name: name, spiffeidPattern: spiffeidPattern, pathPattern: pathPattern, permissions: permissions,
                                                allRequired: "required flags are missing (or use --file to read from YAML):")
        }
        try await PolicyCommand.put(request)
        print("Policy '\(request.name)' applied successfully")
    }

    /// SPIKE's YAML policy file; every key optional here, so that a missing one gets SPIKE's
    /// message rather than a decoding error.
    struct PolicyFile: Decodable {
        var name: String?
        var spiffeidPattern: String?
        var pathPattern: String?
        var permissions: [String]?
    }

    /// A policy from SPIKE's YAML format.
    static func read(file: String) throws -> PolicyPutRequest {
        guard FileManager.default.fileExists(atPath: file) else { throw CommandFailure("file \(file) does not exist") }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CommandFailure("cannot read \(file)") }
        let document: PolicyFile
        do {
            document = try YAMLDecoder().decode(PolicyFile.self, from: text)
        } catch {
            throw CommandFailure("failed to parse YAML file \(file): \(error)")
        }
        func nonEmpty(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }
        guard let name = nonEmpty(document.name) else { throw CommandFailure("policy name is required") }
        guard let spiffeidPattern = nonEmpty(document.spiffeidPattern) else { throw CommandFailure("spiffeidPattern is required") }
        guard let pathPattern = nonEmpty(document.pathPattern) else { throw CommandFailure("pathPattern is required") }
        guard let permissions = document.permissions, !permissions.isEmpty else { throw CommandFailure("permissions are required") }
        do { _ = try Validation.parsePermissions(permissions.joined(separator: ",")) } catch { throw CommandFailure(error.description) }
        return PolicyPutRequest(name: name, spiffeidPattern: spiffeidPattern, pathPattern: pathPattern, permissions: permissions)
    }
}

struct PolicyGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show a policy.",
        discussion: """
        Examples:
          spike policy get web-read
          spike policy get --name web-read -f json
        """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The policy's name.") var positionalName: String?
    @Option(name: .long, help: "The policy's name.") var name: String?
    @Option(name: [.short, .long], help: ArgumentHelp(stringLiteral: OutputFormat.help)) var format = "human"

    func run() async throws {
        let format = try OutputFormat(parsing: format)
        guard let name = name ?? positionalName else { throw CommandFailure("give the policy's name (an argument or --name)") }
        let policy = try await NexusAPI.using {
            try await $0.call(.policyGet, PolicyNameRequest(id: name), as: PolicyResponse.self, notFound: "Entity not found.")
        }
        print(try format.render(policy) ?? Self.human(policy))
    }

    static func human(_ policy: PolicyResponse) -> String {
        """
        POLICY DETAILS
        =============

        Name: \(policy.name)
        SPIFFE ID Pattern: \(policy.spiffiedPattern)
        Path Pattern: \(policy.pathPattern)
        Permissions: \(policy.permissions.joined(separator: ", "))
        Created At: \(policy.createdAt)
        Updated At: \(policy.updatedAt)
        """
    }
}

struct PolicyList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List policies, optionally only those with exactly this path or SPIFFE ID pattern.",
        discussion: #"""
        Examples:
          spike policy list
          spike policy list --path-pattern '^apps/web/.*$' -f json
        """#
    )

    @OptionGroup var client: ClientOptions

    @Option(name: .customLong("path-pattern"), help: "Only policies with exactly this path pattern.") var pathPattern: String?
    @Option(name: .customLong("spiffeid-pattern"), help: "Only policies with exactly this SPIFFE ID pattern.") var spiffeidPattern: String?
    @Option(name: [.short, .long], help: ArgumentHelp(stringLiteral: OutputFormat.help)) var format = "human"

    func validate() throws {
        if pathPattern != nil && spiffeidPattern != nil { throw ValidationError("give --path-pattern or --spiffeid-pattern, not both") }
    }

    func run() async throws {
        let format = try OutputFormat(parsing: format)
        let request = PolicyListRequest(spiffeidPattern: spiffeidPattern, pathPattern: pathPattern)
        let policies = try await NexusAPI.using { try await $0.call(.policyList, request, as: PolicyListResponse.self) }.policies
        if let rendered = try format.render(policies) {
            print(rendered)
        } else if policies.isEmpty {
            print("No policies found.")
        } else {
            print("POLICIES\n========\n\n" + policies.map { "Name: \($0.name)\n--------\n\n" }.joined(), terminator: "")
        }
    }
}

struct PolicyDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a policy (asks first unless --yes).",
        discussion: """
        Examples:
          spike policy delete web-read
          spike policy delete --name web-read --yes
        """
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The policy's name.") var positionalName: String?
    @Option(name: .long, help: "The policy's name.") var name: String?
    @Flag(name: [.short, .long], help: "Do not ask for confirmation.") var yes = false

    func run() async throws {
        guard let name = name ?? positionalName else { throw CommandFailure("give the policy's name (an argument or --name)") }
        if !yes {
            FileHandle.standardOutput.write(Data("Are you sure you want to delete policy '\(name)'? (y/N): ".utf8))
            guard let answer = readLine(), answer == "y" || answer == "Y" else {
                // The user's choice, not an error: SPIKE's message, exit 0.
                FileHandle.standardOutput.write(Data("Operation canceled.\n".utf8))
                return
            }
        }
        _ = try await NexusAPI.using {
            try await $0.call(.policyDelete, PolicyNameRequest(id: name), as: EmptyRequest.self, notFound: "Entity not found.")
        }
        print("Policy deleted successfully.")
    }
}
