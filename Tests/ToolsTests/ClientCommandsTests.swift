import Foundation
import Testing

extension LocalClusters {
    /// `spike secret|policy|cipher` through the real executable against a real cluster from
    /// `spike dev up`: data on stdout, SPIKE's messages on stderr, a non-zero exit on every error,
    /// and a workload whose policy lets it read one path and not another.
    @Suite(.serialized) struct ClientCommandsTests {
        let dir = "/tmp/spk-cli-\(UInt32.random(in: 0...UInt32.max))"

        struct Run {
            var status: Int32
            var stdout: String
            var stderr: String
        }

        /// Runs `spike` with the cluster's env.
        func spike(_ arguments: [String], _ environment: [String: String] = [:], input: String = "") async throws -> Run {
            let base = try clusterEnvironment()
            let result = try await SpikeExecutable.runningSeparately(arguments, environment: base.merging(environment) { $1 }, input: input)
            return Run(status: result.status, stdout: result.stdout, stderr: result.stderr)
        }

        /// The variables `spike dev up` wrote to DIR/env; none before it ran.
        func clusterEnvironment() throws -> [String: String] {
            FileManager.default.fileExists(atPath: dir + "/env") ? try LocalClusters.exports(at: dir + "/env") : [:]
        }

        @Test func secretsPoliciesAndCipherThroughTheCLI() async throws {
            defer { _ = try? SpikeExecutable.run(["dev", "down", "--dir", dir, "--purge"]) }
            let up = try await spike(["dev", "up", "--dir", dir, "--poll-interval", "1s"])
            #expect(up.status == 0, "\(up.stdout) \(up.stderr)")

            // C6.8: put, get, delete.
            let password = "p-\(UInt32.random(in: 0...UInt32.max))"
            let put = try await spike(["secret", "put", "integration/smoke/s", "username=spike", "password=\(password)"])
            #expect(put.status == 0 && put.stdout == "OK\n" && put.stderr.isEmpty)
            let get = try await spike(["secret", "get", "integration/smoke/s"])
            #expect(get.status == 0 && get.stdout == "password: \(password)\nusername: spike\n")
            #expect(try await spike(["secret", "get", "integration/smoke/s", "password"]).stdout == password + "\n")
            let json = try await spike(["secret", "get", "integration/smoke/s", "-f", "j"])
            #expect((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: String]) == ["username": "spike", "password": password])
            #expect(try await spike(["secret", "get", "integration/smoke/s", "-f", "yaml"]).stdout.contains("password: \(password)"))
            // Values that stay off the command line: from stdin and from a file.
            // A file's bytes are kept exactly (trailing newlines, tabs, NUL, non-ASCII); stdin loses
            // the newline echo adds.
            let exact = "from-a-file\r\n\t\u{0}€\n\n"
            try exact.write(toFile: dir + "/value", atomically: true, encoding: .utf8)
            #expect(try await spike(["secret", "put", "off/argv", "a=-", "b=@\(dir)/value", "c=plain"], input: "from-stdin\n").status == 0)
            let stored = try await spike(["secret", "get", "off/argv", "-f", "json"])
            #expect((try JSONSerialization.jsonObject(with: Data(stored.stdout.utf8)) as? [String: String])
                == ["a": "from-stdin", "b": exact, "c": "plain"])
            // Bytes that are not UTF-8 cannot cross the API as a JSON string: refused, nothing written.
            try Data([0x66, 0x6F, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: dir + "/binary"))
            let binary = try await spike(["secret", "put", "off/binary", "k=@\(dir)/binary"])
            #expect(binary.status != 0 && binary.stderr.contains("\(dir)/binary (the value of k) is not UTF-8 text") && binary.stderr.contains("nothing was written"))
            #expect(try await spike(["secret", "get", "off/binary"]).stderr == "Error: Resource not found.\n")
            #expect(try await spike(["secret", "put", "off/argv", "a=-", "b=-"]).stderr.contains("Only one value can come from standard input"))
            #expect(try await spike(["secret", "put", "off/argv", "a=@/nonexistent"]).status != 0)
            // C6.7: every alias of human output.
            for alias in ["human", "h", "plain", "p", ""] {
                #expect(try await spike(["secret", "get", "integration/smoke/s", "-f", alias]).stdout == get.stdout, "\(alias)")
            }
            let missingKey = try await spike(["secret", "get", "integration/smoke/s", "nokey"])
            #expect(missingKey.status != 0 && missingKey.stderr == "Error: Key not found.\n" && missingKey.stdout.isEmpty)
            #expect(try await spike(["secret", "put", "integration/smoke/s", "password=second"]).status == 0)
            let metadata = try await spike(["secret", "metadata", "get", "integration/smoke/s"])
            #expect(metadata.stdout.contains("Current Version : 2") && metadata.stdout.contains("Version 1:") && metadata.stdout.contains("Max Versions    : 10"))
            #expect(try await spike(["secret", "list"]).stdout == "- integration/smoke/s\n- off/argv\n")
            #expect(try await spike(["secret", "list", "-f", "json"]).stdout.contains(#""integration/smoke/s""#))
            #expect(try await spike(["secret", "delete", "integration/smoke/s", "-v", "1,2"]).status == 0)
            let deleted = try await spike(["secret", "get", "integration/smoke/s"])
            #expect(deleted.status != 0 && !deleted.stdout.contains("second") && deleted.stderr == "Error: Resource not found.\n")
            #expect(try await spike(["secret", "undelete", "integration/smoke/s"]).status == 0)
            #expect(try await spike(["secret", "get", "integration/smoke/s", "password"]).stdout == "second\n")
            #expect(try await spike(["secret", "destroy", "integration/smoke/s", "-v", "1"]).status == 0)
            #expect(try await spike(["secret", "get", "integration/smoke/s", "-v", "1"]).status != 0)

            // Refusals: each one non-zero, on stderr, with SPIKE's message.
            for (arguments, message) in [
                (["secret", "get", "x", "-f", "JSON"], "Error: invalid format 'JSON'. Valid formats are: human/h/plain/p, json/j, yaml/y"),
                (["secret", "put", "bad path", "k=v"], "Error: Invalid secret path: bad path"),
                (["secret", "put", "a", "novalue"], "Error: Invalid key-value pair: novalue"),
                (["secret", "put", "a", "api.key=v"], "Error: Invalid request."),
                (["secret", "delete", "a", "--versions=1,-1"], "Error: Invalid version number: -1"),
                (["secret", "delete", "a", "-v", "1,x"], "Error: Invalid version number: x"),
                (["secret", "undelete", "never/written"], "Error: Resource not found."),
                (["policy", "get", "nope"], "Error: Entity not found."),
                (["policy", "create", "--name", "p"], "Error: All flags are required."),
                (["policy", "create", "--name", "p", "--spiffeid-pattern", "^spiffe://a$", "--path-pattern", "a", "--permissions", "delete"],
                 "Error: invalid permission 'delete'"),
            ] {
                let run = try await spike(arguments)
                #expect(run.status != 0 && run.stderr.hasPrefix(message) && run.stdout.isEmpty, "\(arguments): \(run.status) \(run.stderr)")
            }
            let unreachable = try await spike(["secret", "get", "x"], ["SPIKE_NEXUS_API_URL": "https://127.0.0.1:1"])
            #expect(unreachable.status != 0 && unreachable.stderr.contains("Failed to connect to SPIKE Nexus"))
            let noIdentity = try await spike(["secret", "get", "x"], ["SPIFFE_ENDPOINT_SOCKET": ""])
            #expect(noIdentity.status != 0 && noIdentity.stderr.contains("SPIFFE_ENDPOINT_SOCKET"))

            // A workload (PEM identity) with a policy reads one path and not another.
            #expect(try await spike(["dev", "ca", "issue", "--dir", dir + "/ca", "--id", "spiffe://spike.ist/workload/web", "--out", dir + "/web"]).status == 0)
            let web = ["SPIFFE_ENDPOINT_SOCKET": "", "SPIKE_SVID_CERT_FILE": dir + "/web.pem", "SPIKE_SVID_KEY_FILE": dir + "/web.key",
                       "SPIKE_TRUST_BUNDLE_FILE": dir + "/ca/bundle.pem"]
            #expect(try await spike(["secret", "put", "apps/web/db", "pw=web-secret"]).status == 0)
            #expect(try await spike(["secret", "put", "apps/billing/db", "pw=billing-secret"]).status == 0)
            #expect(try await spike(["secret", "get", "apps/web/db"], web).stderr == "Error: Unauthorized access.\n")
            let policyFile = dir + "/web.yaml"
            try #"""
            name: web-read
            spiffeidPattern: ^spiffe://spike\.ist/workload/web$
            pathPattern: ^apps/web/.*$
            permissions:
              - read
            """#.write(toFile: policyFile, atomically: true, encoding: .utf8)
            #expect(try await spike(["policy", "apply", "--file", policyFile]).stdout == "Policy 'web-read' applied successfully\n")
            #expect(try await spike(["secret", "get", "apps/web/db", "pw"], web).stdout == "web-secret\n")
            let other = try await spike(["secret", "get", "apps/billing/db"], web)
            #expect(other.status != 0 && other.stderr == "Error: Unauthorized access.\n" && !other.stdout.contains("billing-secret"))
            #expect(try await spike(["secret", "put", "apps/web/db", "pw=x"], web).status != 0)
            #expect(try await spike(["policy", "get", "web-read"]).stdout.contains("Path Pattern: ^apps/web/.*$"))
            #expect(try await spike(["policy", "list"]).stdout == "POLICIES\n========\n\nName: web-read\n--------\n\n")
            // `create` reads the policy (to refuse one that exists), then writes it: two requests on
            // the invocation's one connection, each timed on stderr with --verbose (stdout unchanged).
            let created = try await spike(["policy", "create", "--name", "timed", "--spiffeid-pattern", "^spiffe://spike\\.ist/workload/t$",
                                           "--path-pattern", "^t/", "--permissions", "read", "--verbose"])
            #expect(created.stdout == "Policy created successfully.\n")
            let timing = created.stderr.split(separator: "\n").map(String.init)
            #expect(timing.count == 4, "\(created.stderr)")
            #expect(timing.first?.hasPrefix("spike: identity spiffe://spike.ist/spike/pilot/role/superuser from the Workload API in ") == true)
            #expect(timing.dropFirst().first?.hasPrefix("spike: POST /v1/acl/policy?action=get 404 in ") == true, "\(timing)")
            #expect(timing.dropFirst(2).first?.hasPrefix("spike: POST /v1/acl/policy 200 in ") == true, "\(timing)")
            #expect(timing.last?.hasPrefix("spike: 2 requests on 1 connection to https://") == true, "\(timing)")
            #expect(try await spike(["policy", "delete", "timed"], input: "y\n").status == 0)
            let canceled = try await spike(["policy", "delete", "web-read"], input: "n\n")
            #expect(canceled.status == 0 && canceled.stdout.hasSuffix("Operation canceled.\n"))
            #expect(try await spike(["policy", "get", "web-read"]).status == 0, "a canceled delete leaves the policy")
            #expect(try await spike(["policy", "delete", "web-read"], input: "y\n").stdout.hasSuffix("Policy deleted successfully.\n"))
            #expect(try await spike(["secret", "get", "apps/web/db"], web).status != 0)

            // Cipher: stream mode through a pipe's worth of bytes, and JSON mode.
            let sealed = try await spike(["cipher", "encrypt", "-o", dir + "/hello.enc"], input: "attack at dawn")
            #expect(sealed.status == 0)
            let encrypted = try #require(FileManager.default.contents(atPath: dir + "/hello.enc"))
            #expect(encrypted.first == 1 && encrypted.count == 1 + 12 + 14 + 16)
            #expect(try await spike(["cipher", "decrypt", "-f", dir + "/hello.enc"]).stdout == "attack at dawn")
            let jsonSealed = try await spike(["cipher", "encrypt", "--plaintext", Data("hi".utf8).base64EncodedString()])
            let fields = try #require(try JSONSerialization.jsonObject(with: Data(jsonSealed.stdout.utf8)) as? [String: Any])
            let opened = try await spike(["cipher", "decrypt", "--version", "1", "--nonce", "\(fields["nonce"]!)", "--ciphertext", "\(fields["ciphertext"]!)"])
            #expect(opened.status == 0 && opened.stdout == "hi")
            var tampered = encrypted
            tampered[20] ^= 1
            try tampered.write(to: URL(fileURLWithPath: dir + "/bad.enc"))
            let refused = try await spike(["cipher", "decrypt", "-f", dir + "/bad.enc"])
            #expect(refused.status != 0 && refused.stderr.contains("Decryption operation failed") && refused.stdout.isEmpty)

            // A sealed Nexus (every Keeper gone, the Nexus restarted): "not ready".
            for name in ["keeper-1", "keeper-2", "keeper-3", "nexus"] {
                let pid = pid_t(try String(contentsOfFile: "\(dir)/run/\(name).pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
                kill(pid, SIGKILL)
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await spike(["dev", "start", "--dir", dir, "nexus"]).status == 0)
            let notReady = try await spike(["secret", "get", "apps/web/db"])
            #expect(notReady.status != 0 && notReady.stderr.contains("not ready"), "\(notReady.stderr)")
        }

        /// C4.8: a policy file is checked before anything is sent (here there is no identity and no
        /// Nexus at all), each refusal with SPIKE's message and a non-zero exit.
        @Test func policyFilesAreCheckedBeforeAnythingIsSent() async throws {
            let directory = NSTemporaryDirectory() + "spike-policy-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let cases: [(String, String)] = [
                ("spiffeid: ^spiffe://a$\npathPattern: ^a$\npermissions: [read]\n", "policy name is required"),
                ("name: p\npathPattern: ^a$\npermissions: [read]\n", "spiffeidPattern is required"),
                ("name: p\nspiffeidPattern: ^spiffe://a$\npermissions: [read]\n", "pathPattern is required"),
                ("name: p\nspiffeidPattern: ^spiffe://a$\npathPattern: ^a$\n", "permissions are required"),
                ("name: p\nspiffeidPattern: ^spiffe://a$\npathPattern: ^a$\npermissions: []\n", "permissions are required"),
                ("name: p\nspiffeidPattern: ^spiffe://a$\npathPattern: ^a$\npermissions: [read, delete]\n", "invalid permission 'delete'"),
                ("name: [p\n", "failed to parse YAML file"),
            ]
            let offline = ["SPIFFE_ENDPOINT_SOCKET": "", "SPIKE_NEXUS_API_URL": "https://127.0.0.1:1"]
            for (index, (content, message)) in cases.enumerated() {
                let file = "\(directory)/\(index).yaml"
                try content.write(toFile: file, atomically: true, encoding: .utf8)
                let run = try await spike(["policy", "apply", "--file", file], offline)
                #expect(run.status != 0 && run.stderr.contains(message) && run.stdout.isEmpty, "\(content): \(run.stderr)")
            }
            let missing = try await spike(["policy", "apply", "--file", directory + "/none.yaml"], offline)
            #expect(missing.status != 0 && missing.stderr.contains("does not exist"))
            let flags = try await spike(["policy", "apply", "--name", "p"], offline)
            #expect(flags.status != 0 && flags.stderr.contains("required flags are missing") && flags.stderr.contains("--spiffeid-pattern"))
        }

        @Test func everyCommandHasHelpWithExamples() async throws {
            for command in [["secret", "put"], ["secret", "get"], ["secret", "list"], ["secret", "delete"], ["secret", "undelete"],
                            ["secret", "destroy"], ["secret", "metadata", "get"], ["policy", "create"], ["policy", "apply"], ["policy", "get"],
                            ["policy", "list"], ["policy", "delete"], ["cipher", "encrypt"], ["cipher", "decrypt"]] {
                let help = try await spike(command + ["--help"])
                #expect(help.status == 0 && help.stdout.contains("Example") && help.stdout.contains("spike \(command.joined(separator: " "))"), "\(command)")
            }
            let completion = try await spike(["--generate-completion-script", "bash"])
            #expect(completion.status == 0 && completion.stdout.contains("secret") && completion.stdout.contains("policy"))
        }
    }
}
