import Foundation

/// One input decoder under coverage-guided fuzzing. `run` feeds it bytes the way an attacker
/// would hand them over (a record in the log's file, a Workload API message, an HTTP request)
/// and checks what must hold whatever the bytes: no crash, and the target's own invariants (a
/// forged record is never read as an event, a decoded message encodes back to itself, a request
/// is never answered 500). A broken invariant is a `FuzzFinding`; libFuzzer turns it into a
/// crash with the input saved, the corpus tests into a failure naming the file.
public protocol FuzzTarget: Sendable {
    /// The name `scripts/fuzz` and the corpus folder (`Fuzz/corpus/NAME`) use.
    static var name: String { get }
    init() throws
    func run(_ input: [UInt8]) throws(FuzzFinding)
    /// Inputs to start from (`scripts/fuzz` adds them to the corpus): valid ones, mostly.
    static func seeds() throws -> [[UInt8]]
}

extension FuzzTarget {
    public static func seeds() throws -> [[UInt8]] { [] }
}

/// An invariant an input broke: what was expected, in words.
public struct FuzzFinding: Error, CustomStringConvertible {
    public let target: String
    public let invariant: String

    public init(_ target: String, _ invariant: String) {
        self.target = target
        self.invariant = invariant
    }

    public var description: String { "\(target): \(invariant)" }
}

/// Every target, by name.
public enum FuzzTargets {
    public static let all: [any FuzzTarget.Type] = [
        RecordFuzzTarget.self,
        EventBodyFuzzTarget.self,
        WorkloadAPIFuzzTarget.self,
        APIRequestFuzzTarget.self,
        RecoveryShardFuzzTarget.self,
        PolicyPatternFuzzTarget.self,
        HTTPRequestFuzzTarget.self,
    ]

    public static func named(_ name: String) -> (any FuzzTarget.Type)? {
        all.first { $0.name == name }
    }
}

/// Runs async work to completion from the synchronous fuzzing entry point (libFuzzer calls one
/// input at a time on one thread, so blocking it is what it expects).
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let done = DispatchSemaphore(value: 0)
    let result = ResultBox<T>()
    Task {
        result.value = await body()
        done.signal()
    }
    done.wait()
    return result.value!
}

private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

/// A fresh directory for a target's files, on a memory file system where there is one with room
/// (256 MiB): the record and API targets write logs, and fsync on a disk would bound them to a
/// few hundred inputs a second.
func scratchDirectory(_ name: String) throws -> String {
    var volume = statvfs()
    let roomy = statvfs("/dev/shm", &volume) == 0 && UInt64(volume.f_bavail) * UInt64(volume.f_frsize) >= 256 << 20
    let base = roomy ? "/dev/shm" : NSTemporaryDirectory()
    let path = (base as NSString).appendingPathComponent("spike-fuzz-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    return path
}
