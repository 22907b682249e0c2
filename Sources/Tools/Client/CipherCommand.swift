import ArgumentParser
import Foundation
import NIOHTTP1
import SpikeAPI
import SpikeClient

struct CipherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cipher",
        abstract: "Encrypt and decrypt with the Nexus' key (encryption as a service).",
        discussion: """
        The data never gets stored: the Nexus encrypts with AES-256-GCM under a key derived from
        its root key and hands the result back. Needs the superuser or lite workload role, or a
        policy granting `execute` on spike/system/cipher/exec.
        """,
        subcommands: [CipherEncrypt.self, CipherDecrypt.self]
    )

    static func input(_ file: String?) throws -> Data {
        guard let file, file != "-" else { return FileHandle.standardInput.readDataToEndOfFile() }
        guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("cannot read \(file)") }
        return data
    }

    static func output(_ data: Data, to file: String?) throws {
        guard let file, file != "-" else {
            FileHandle.standardOutput.write(data)
            return
        }
        try OutputFile.write(Array(data), to: file)
    }

    static func stream(_ route: APIRoute, _ data: Data) async throws -> Data {
        let response = try await NexusAPI.using { try await $0.post(route, bytes: Array(data), contentType: "application/octet-stream") }
        guard response.status == .ok else {
            let text = String(decoding: response.body, as: UTF8.self)
            if response.status == .badRequest, !text.hasPrefix("{") {
                throw CommandFailure(route == .decrypt ? "Decryption operation failed: \(text)" : "Encryption operation failed: \(text)")
            }
            throw APIFailure.failure(response)
        }
        return Data(response.body)
    }
}

struct CipherEncrypt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encrypt",
        abstract: "Encrypt bytes (stream mode) or a base64 plaintext (JSON mode).",
        discussion: """
        Stream mode writes the binary `0x01 ‖ nonce ‖ ciphertext` that `spike cipher decrypt` reads.
        With --plaintext, JSON mode prints {"version","nonce","ciphertext"} (base64), which
        `spike cipher decrypt --version 1 --nonce … --ciphertext …` takes.
        Examples:
          printf 'hello' | spike cipher encrypt > hello.enc
          spike cipher encrypt -f report.pdf -o report.enc
          spike cipher encrypt --plaintext aGVsbG8=
        """
    )

    @OptionGroup var client: ClientOptions

    @Option(name: [.short, .long], help: "Read the plaintext from this file (default: standard input).") var file: String?
    @Option(name: [.short, .long], help: "Write the result to this file (default: standard output).") var out: String?
    @Option(name: .long, help: "A base64 plaintext: JSON mode.") var plaintext: String?
    @Option(name: .long, help: "Ignored (AES-256-GCM is the only algorithm), as in SPIKE.") var algorithm: String?

    func run() async throws {
        if let plaintext {
            guard let bytes = Data(base64Encoded: plaintext) else { throw CommandFailure("--plaintext is not base64") }
            let sealed = try await NexusAPI.using {
                try await $0.call(.encrypt, CipherEncryptRequest(plaintext: bytes), as: CipherEncryptResponse.self)
            }
            try CipherCommand.output(Data((try OutputFormat.json.render(sealed) ?? "") .utf8) + Data("\n".utf8), to: out)
        } else {
            try CipherCommand.output(try await CipherCommand.stream(.encrypt, try CipherCommand.input(file)), to: out)
        }
    }
}

struct CipherDecrypt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decrypt",
        abstract: "Decrypt what `spike cipher encrypt` produced.",
        discussion: """
        Examples:
          spike cipher decrypt < hello.enc
          spike cipher decrypt -f report.enc -o report.pdf
          spike cipher decrypt --version 1 --nonce <b64> --ciphertext <b64>
        """
    )

    @OptionGroup var client: ClientOptions

    @Option(name: [.short, .long], help: "Read the ciphertext from this file (default: standard input).") var file: String?
    @Option(name: [.short, .long], help: "Write the plaintext to this file (default: standard output).") var out: String?
    @Option(name: .long, help: "JSON mode: the format version (1).") var version: Int?
    @Option(name: .long, help: "JSON mode: the base64 nonce.") var nonce: String?
    @Option(name: .long, help: "JSON mode: the base64 ciphertext.") var ciphertext: String?
    @Option(name: .long, help: "Ignored (AES-256-GCM is the only algorithm), as in SPIKE.") var algorithm: String?

    func validate() throws {
        if let version, !(0...255).contains(version) { throw ValidationError("--version must be 0…255") }
    }

    func run() async throws {
        guard version != nil || nonce != nil || ciphertext != nil else {
            try CipherCommand.output(try await CipherCommand.stream(.decrypt, try CipherCommand.input(file)), to: out)
            return
        }
        guard let nonce = Data(base64Encoded: nonce ?? ""), let ciphertext = Data(base64Encoded: ciphertext ?? "") else {
            throw CommandFailure("JSON mode needs --nonce and --ciphertext in base64")
        }
        let request = CipherDecryptRequest(version: version ?? 1, nonce: nonce, ciphertext: ciphertext)
        let response = try await NexusAPI.using { api in
            let response = try await api.post(.decrypt, request)
            guard response.status == .ok else {
                // 400 here (500 from SPIKE's Nexus): the ciphertext did not authenticate.
                let failed = response.status == .badRequest || response.status == .internalServerError
                throw failed ? CommandFailure("Decryption operation failed.") : APIFailure.failure(response)
            }
            return response
        }
        guard let opened = try? JSONDecoder().decode(CipherDecryptResponse.self, from: Data(response.body)) else {
            throw CommandFailure("Failed to parse API response.")
        }
        try CipherCommand.output(opened.plaintext, to: out)
    }
}
