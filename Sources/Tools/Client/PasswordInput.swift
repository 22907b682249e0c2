import Foundation

/// How `spike init` and `spike recover` read an admin password: from `--password-file`, from a
/// hidden prompt on a terminal, or from standard input (a pipe, a script). Never from an
/// argument: process listings show those. Trailing newlines are not part of it.
enum PasswordInput {
    static func read(file: String?, prompt: String) throws -> String {
        let text: String
        if let file {
            guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else { throw CommandFailure("cannot read \(file)") }
            text = contents
        } else if isatty(STDIN_FILENO) == 1 {
            text = try hiddenLine(prompt: prompt)
        } else {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            text = String(decoding: data.prefix(4096), as: UTF8.self)
        }
        return String(text.reversed().drop(while: { $0 == "\n" || $0 == "\r" }).reversed())
    }

    /// One line from the terminal with echo off (restored however the read ends).
    private static func hiddenLine(prompt: String) throws -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else { throw CommandFailure("cannot read the terminal's settings") }
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = Swift.readLine(strippingNewline: true) else { throw CommandFailure("no password was typed") }
        return line
    }
}
