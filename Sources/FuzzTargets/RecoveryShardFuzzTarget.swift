import Projections

/// SPIKE's recovery-shard parser (`spike operator restore`, `--shards`): the input is what an
/// operator might paste. What must hold: no crash; a shard that parses prints to text that
/// parses to the same shard; no error repeats the shard's digits.
public struct RecoveryShardFuzzTarget: FuzzTarget {
    public static let name = "recovery-shard"

    public init() {}

    public func run(_ input: [UInt8]) throws(FuzzFinding) {
        let text = String(decoding: input, as: UTF8.self)
        do {
            let shard = try RecoveryShard.parse(text)
            guard shard.value.count == 32 else { throw FuzzFinding(Self.name, "a shard of \(shard.value.count) bytes was accepted") }
            guard (try? RecoveryShard.parse(shard.text)) == shard else {
                throw FuzzFinding(Self.name, "a parsed shard does not parse back from its own text")
            }
        } catch let error as RecoveryShardError {
            let digits = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).last.map(String.init) ?? ""
            if digits.count >= 16, error.description.contains(digits) {
                throw FuzzFinding(Self.name, "an error message repeats the shard")
            }
        } catch let finding as FuzzFinding {
            throw finding
        } catch {
            throw FuzzFinding(Self.name, "an untyped error: \(error)")
        }
    }

    public static func seeds() -> [[UInt8]] {
        [Array("spike:1:\(String(repeating: "0123456789abcdef", count: 4))".utf8),
         Array("  spike:3:\(String(repeating: "ABCDEF0123456789", count: 4))\n".utf8)]
    }
}
