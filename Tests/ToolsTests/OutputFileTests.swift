import Foundation
import Testing
@testable import Tools

/// The CLI's output file: bytes come out in the order written, whether gathered in its buffer or
/// written in place as a large chunk (`write(chunk:)`, the export's path), and the file appears
/// only once committed.
@Suite struct OutputFileTests {
    @Test func chunksLargeAndSmallComeOutInOrderAndTheFileAppearsOnlyWhenCommitted() throws {
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("spike-output-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("events.jsonl")
        // Two chunks past the size written in place, with distinct bytes, around small writes.
        let large = (0..<(OutputFile.directWriteMinimum + 1)).map { UInt8(truncatingIfNeeded: $0 % 251) }
        let larger = (0..<(3 * OutputFile.directWriteMinimum)).map { UInt8(truncatingIfNeeded: $0 % 241 + 7) }
        let file = try OutputFile(path: path)
        try file.write("head\n")
        try file.write(chunk: large)
        try file.write(chunk: Array("small\n".utf8))
        try file.write("between\n")
        try file.write(chunk: larger)
        try file.write("tail\n")
        #expect(!FileManager.default.fileExists(atPath: path))
        try file.commit()
        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(written == Array("head\n".utf8) + large + Array("small\nbetween\n".utf8) + larger + Array("tail\n".utf8))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
