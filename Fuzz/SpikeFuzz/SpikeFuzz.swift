import Crypto
import EventLog
import Foundation
import FuzzTargets

// One binary for every target. Built by `scripts/fuzz` with `-sanitize=fuzzer,address` and
// `-D SPIKE_FUZZ_ENGINE`, it is a libFuzzer binary: libFuzzer's `main` drives the target named
// by SPIKE_FUZZ_TARGET. Built normally, it replays inputs: `SpikeFuzz TARGET FILE...`, and
// writes seeds: `SpikeFuzz --seeds TARGET DIR`.

/// The target's instance, made once per process (the record and API targets build a log).
nonisolated(unsafe) private var current: (any FuzzTarget)?

private func makeTarget(named name: String) -> any FuzzTarget {
    guard let type = FuzzTargets.named(name) else {
        let names = FuzzTargets.all.map { $0.name }.joined(separator: ", ")
        FileHandle.standardError.write(Data("SpikeFuzz: no target '\(name)'; the targets are \(names)\n".utf8))
        exit(2)
    }
    do {
        return try type.init()
    } catch {
        FileHandle.standardError.write(Data("SpikeFuzz: cannot set up '\(name)': \(error)\n".utf8))
        exit(2)
    }
}

/// Writes the target's seeds into `directory`, each named by its SHA-256 as libFuzzer names
/// corpus files, so that writing them twice adds nothing.
private func writeSeeds(of name: String, to directory: String) throws {
    guard let type = FuzzTargets.named(name) else { throw FuzzFinding(name, "no such target") }
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for seed in try type.seeds() {
        let file = SHA256.hash(data: seed).hexString.prefix(40)
        try Data(seed).write(to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent(String(file))))
    }
}

#if SPIKE_FUZZ_ENGINE
// SwiftPM links an executable's entry point as `main` (`--defsym main=SpikeFuzz_main`), and
// `-sanitize=fuzzer` brings libFuzzer's own `main` too. Whichever the linker keeps, the same
// thing happens: ours runs libFuzzer as a library (LLVMFuzzerRunDriver); libFuzzer's calls the
// two entry points below.
@_silgen_name("LLVMFuzzerRunDriver")
private func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                             _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutableRawPointer?) -> CInt {
    setUp()
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        try current!.run(input)
    } catch {
        // A crash is what libFuzzer saves the input for.
        FileHandle.standardError.write(Data("SpikeFuzz: invariant broken: \(error)\n".utf8))
        abort()
    }
    return 0
}

/// Makes the target named by SPIKE_FUZZ_TARGET (once), or writes its seeds and exits.
private func setUp() {
    guard current == nil else { return }
    let environment = ProcessInfo.processInfo.environment
    guard let name = environment["SPIKE_FUZZ_TARGET"] else {
        FileHandle.standardError.write(Data("SpikeFuzz: set SPIKE_FUZZ_TARGET to one of \(FuzzTargets.all.map { $0.name })\n".utf8))
        exit(2)
    }
    if let directory = environment["SPIKE_FUZZ_WRITE_SEEDS"] {
        do { try writeSeeds(of: name, to: directory) } catch {
            FileHandle.standardError.write(Data("SpikeFuzz: cannot write the seeds: \(error)\n".utf8))
            exit(2)
        }
        exit(0)
    }
    current = makeTarget(named: name)
}

@main
struct SpikeFuzz {
    static func main() {
        setUp()
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
    }
}
#else
@main
struct SpikeFuzz {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.count == 3, arguments[0] == "--seeds" {
            do { try writeSeeds(of: arguments[1], to: arguments[2]) } catch {
                print("cannot write the seeds: \(error)")
                exit(2)
            }
            exit(0)
        }
        guard arguments.count >= 2 else {
            print("usage: SpikeFuzz TARGET FILE...   replays inputs (scripts/fuzz TARGET SECONDS fuzzes)")
            print("       SpikeFuzz --seeds TARGET DIR   writes the target's seeds")
            exit(2)
        }
        let target = makeTarget(named: arguments[0])
        var broken = 0
        for file in arguments.dropFirst() {
            guard let input = FileManager.default.contents(atPath: file) else {
                print("\(file): cannot read")
                exit(2)
            }
            do {
                try target.run(Array(input))
            } catch {
                broken += 1
                print("\(file): \(error)")
            }
        }
        print("\(arguments.count - 1 - broken) of \(arguments.count - 1) inputs keep every invariant")
        exit(broken == 0 ? 0 : 1)
    }
}
#endif
