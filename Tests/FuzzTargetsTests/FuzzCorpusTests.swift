import Foundation
import FuzzTargets
import Testing

/// Every input kept in `Fuzz/corpus/TARGET` (seeds and the input of every failure the fuzzer
/// found, kept as a regression test) and every target's seeds keep the target's invariants.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fuzz/corpus").standardizedFileURL.path

    @Test(arguments: FuzzTargets.all.map { $0.name })
    func keptInputsKeepTheInvariants(_ name: String) async throws {
        let type = try #require(FuzzTargets.named(name))
        let directory = (Self.corpus as NSString).appendingPathComponent(name)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(!files.isEmpty, "no kept inputs in \(directory)")
        let kept: [(String, [UInt8])] = try files.map { file in
            (file, Array(try #require(FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent(file)))))
        }
        let inputs = kept + (try type.seeds().enumerated().map { ("seed \($0.offset)", $0.element) })
        let findings = try await onOwnThread {
            let target = try type.init()
            return inputs.compactMap { input -> String? in
                do { try target.run(input.1) } catch { return "\(input.0): \(error)" }
                return nil
            }
        }
        #expect(findings.isEmpty, "\(findings)")
    }

    /// The HTTP differential compares real framings: llhttp frames what the server's parser
    /// frames, and tells apart what it frames differently (a body one length longer).
    @Test func theHTTPDifferentialSeesBothParsersFrame() {
        let pipelined = Array("POST /a HTTP/1.1\r\nHost: n\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: n\r\n\r\n".utf8)
        let ours = HTTPRequestFuzzTarget.ours(pipelined, piece: 5)
        #expect(ours.requests.map(\.uri) == ["/a", "/b"] && ours.requests.first?.body == Array("abc".utf8) && ours.refusal == nil)
        #expect(HTTPRequestFuzzTarget.llhttp(pipelined) == ours)
        let longer = Array(String(decoding: pipelined, as: UTF8.self).replacingOccurrences(of: "Length: 3", with: "Length: 4").utf8)
        #expect(HTTPRequestFuzzTarget.llhttp(longer).requests.first?.body == Array("abcG".utf8))
        #expect(HTTPRequestFuzzTarget.llhttp(longer) != ours)
    }

    /// The invariants are real: a check told the log changed when it did not reports it.
    @Test func aBrokenInvariantIsReported() async throws {
        let outcome = try await onOwnThread { () -> (changed: String?, unchanged: String?) in
            let record = try RecordFuzzTarget()
            func finding(_ changed: Bool) -> String? {
                do { try record.check(changed: changed, at: 3) } catch { return error.invariant }
                return nil
            }
            return (finding(true), finding(false))
        }
        #expect(outcome.changed == "record 3 changed but verify called the log intact")
        #expect(outcome.unchanged == nil)
    }

    /// The targets block their thread on async work (as libFuzzer's one thread expects), which
    /// must not be a thread of Swift's cooperative pool.
    private func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}
