// Appends to the log in DIR forever with several concurrent appenders, printing `ack <sequence>`
// for each append after it returned (it is durable then). The crash tests kill it with SIGKILL
// at random moments and check that every acknowledged sequence survived.
//
// Usage: LogCrashChild DIR RECIPIENT_PUBLIC_KEY_PEM_FILE [APPENDERS]
import EventLog
import Foundation

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: LogCrashChild DIR PUBLIC_KEY_FILE [APPENDERS]\n".utf8))
    exit(2)
}
let publicKey = try LogKeyFile.publicKey(pem: String(contentsOfFile: arguments[2], encoding: .utf8))
let appenders = arguments.count > 3 ? Int(arguments[3]) ?? 4 : 4
var options = EventLog.Options()
options.initialMapSize = 1 << 20  // small, so that growth happens under the kill schedule too
options.segmentMaxRecords = 50
let log: EventLog
do {
    log = try EventLog.open(directory: arguments[1], options: options)
} catch {
    FileHandle.standardError.write(Data("LogCrashChild: \(error)\n".utf8))
    exit(3)
}
log.setRecipients([LogRecipient(publicKey)], epoch: 1)
FileHandle.standardOutput.write(Data("ready\n".utf8))

try await withThrowingTaskGroup(of: Void.self) { group in
    for appender in 0..<appenders {
        group.addTask {
            var counter = 0
            while true {
                counter += 1
                let body = Array("appender \(appender) event \(counter) ".utf8) + [UInt8](repeating: 0x61, count: 200)
                let sequence = try await log.append(kind: 40, body: body)
                FileHandle.standardOutput.write(Data("ack \(sequence)\n".utf8))
            }
        }
    }
    try await group.waitForAll()
}
