import ArgumentParser
import Foundation
import Projections
import SecretSharing

/// How an offline tool gets the root key of the log's current epoch: an admin's password, or
/// SPIKE's recovery shard files; neither means what the audit key alone shows. The key is
/// checked against the epoch's key check value before anything uses it.
struct RootKeyOptions: ParsableArguments {
    @Flag(name: .long, help: "Read an admin password (a hidden prompt on a terminal, else standard input) to unwrap the root key.")
    var password = false

    @Option(name: .long, help: "Read the admin password from this file instead.")
    var passwordFile: String?

    @Option(name: .long, help: "Only try this admin's password wrap (default: every admin's).")
    var admin: String?

    @Option(name: .long, help: "A directory of recovery shard files (spike.recovery.N.txt, from `spike operator recover`).")
    var shards: String?

    var given: Bool { password || passwordFile != nil || shards != nil }

    func validate() throws {
        if shards != nil, password || passwordFile != nil {
            throw ValidationError("give either a password or --shards, not both")
        }
    }

    /// The root key of `lifecycle`'s current epoch, or nil when no source was given.
    func rootKey(for lifecycle: LifecycleProjection) throws -> (key: RootKey, source: String)? {
        guard given else { return nil }
        guard let genesis = lifecycle.genesis else {
            throw CommandFailure("the log has no current epoch (it was never initialized, or it was reset since): there is no root key to recover")
        }
        let check = Array(genesis.keyCheckValue)
        if let shards {
            let files = try Self.shardFiles(in: shards)
            guard files.count >= genesis.threshold else {
                throw CommandFailure("\(shards) holds \(files.count) recovery shard file(s); epoch \(genesis.epoch) needs \(genesis.threshold)")
            }
            do {
                let key = try RootKey.combine(files.map { Shamir.Share(index: UInt8(clamping: $0.index), value: $0.value) },
                                              threshold: genesis.threshold, keyCheckValue: check)
                return (key, "recovery shards \(files.map { String($0.index) }.joined(separator: ", "))")
            } catch {
                throw CommandFailure("the recovery shards in \(shards) do not give the root key of epoch \(genesis.epoch) (they are another epoch's, or damaged)")
            }
        }
        let typed = try PasswordInput.read(file: passwordFile, prompt: "Admin password: ")
        let wraps = lifecycle.passwordWraps.filter { admin == nil || $0.admin == admin }
        guard !wraps.isEmpty else {
            throw CommandFailure(admin.map { "no admin named \($0) has a password in epoch \(genesis.epoch); the admins are \(lifecycle.passwordWraps.map(\.admin).joined(separator: ", "))" }
                ?? "epoch \(genesis.epoch) has no admin password")
        }
        for wrap in wraps {
            if let key = try? wrap.unwrap(password: typed, epoch: genesis.epoch), key.matches(keyCheckValue: check) {
                return (key, "admin \(wrap.admin)'s password")
            }
        }
        throw CommandFailure("the password does not unwrap the root key of epoch \(genesis.epoch) for \(admin.map { "admin \($0)" } ?? "any admin")")
    }

    /// The recovery shard files in `directory`, parsed.
    static func shardFiles(in directory: String) throws -> [RecoveryShard] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw CommandFailure("cannot read the directory \(directory)")
        }
        return try names.filter { $0.hasPrefix("spike.recovery.") && $0.hasSuffix(".txt") }.sorted().map { name in
            let path = (directory as NSString).appendingPathComponent(name)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CommandFailure("cannot read \(path)") }
            do {
                return try RecoveryShard.parse(text)
            } catch {
                throw CommandFailure("\(path): \(error)")
            }
        }
    }
}
