// The event log's benchmark figures, one JSON line each. `scripts/bench log` runs this in release
// mode next to the raw LMDB program and `openssl speed`, and adds baselines and ratios.
//
//   LogBench append DIR BATCHED_EVENTS BATCH_SIZE SINGLE_APPENDS APPENDERS PER_APPENDER
//   LogBench populate DIR KEY_FILE EVENTS      (creates a log of EVENTS 200-byte events)
//   LogBench replay DIR KEY_FILE               (full replay: read, chain check, decrypt)
import Crypto
import EventLog
import Foundation

let bodySize = 200

func emit(_ name: String, _ value: Double, _ unit: String, _ extra: [String: Any] = [:]) {
    var object: [String: Any] = ["name": name, "value": (value * 10).rounded() / 10, "unit": unit]
    object.merge(extra) { $1 }
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = start.duration(to: .now)
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func payload(_ index: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: bodySize)
    for position in 0..<bodySize { bytes[position] = UInt8(truncatingIfNeeded: index &* 31 &+ position) }
    return bytes
}

/// Kilobytes of a `/proc/self/status` field such as VmHWM (peak resident) or RssAnon.
func status(_ field: String) -> Double {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return 0
}

func openLog(_ directory: String, readOnly: Bool = false) throws -> EventLog {
    var options = EventLog.Options()
    options.initialMapSize = 1 << 30
    options.readOnly = readOnly
    return try EventLog.open(directory: directory, options: options)
}

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: see Benchmarks/LogBench/main.swift\n".utf8))
    exit(2)
}

switch arguments[1] {
case "append":
    let directory = arguments[2]
    let (events, batch, singles, appenders, perAppender) =
        (Int(arguments[3])!, Int(arguments[4])!, Int(arguments[5])!, Int(arguments[6])!, Int(arguments[7])!)
    let key = Curve25519.KeyAgreement.PrivateKey()
    let log = try openLog(directory)
    log.setRecipients([LogRecipient(key.publicKey)], epoch: 1)
    let batches = (0..<(events / batch)).map { b in (0..<batch).map { NewEvent(kind: 40, body: payload(b * batch + $0)) } }
    // Best of three rounds, as the raw LMDB program does: the machine is shared and noisy.
    // `inFlight` appends are outstanding at a time: with two, the writer seals the next batch
    // while the current one's fsync runs (LMDB itself cannot overlap commits, so the raw
    // program gains nothing from it).
    for inFlight in [2, 1] {
        var best = Double.infinity
        for _ in 0..<3 {
            best = min(best, try await seconds {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (index, events) in batches.enumerated() {
                        if index >= inFlight { try await group.next() }
                        group.addTask { try await log.append(events) }
                    }
                    try await group.waitForAll()
                }
            })
        }
        emit(inFlight == 2 ? "log_batched_append" : "log_batched_append_sequential", Double(events) / best, "events/s",
             ["batch": batch, "body_bytes": bodySize, "rounds": 3, "appends_in_flight": inFlight])
    }

    let single = try await seconds {
        for index in 0..<singles { try await log.append(kind: 40, body: payload(index)) }
    }
    emit("log_single_durable_append", Double(singles) / single, "appends/s", ["body_bytes": bodySize])

    let before = log.statistics
    let concurrent = try await seconds {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for appender in 0..<appenders {
                group.addTask {
                    for index in 0..<perAppender { try await log.append(kind: 40, body: payload(appender &* 7919 &+ index)) }
                }
            }
            try await group.waitForAll()
        }
    }
    let after = log.statistics
    let transactions = after.transactions - before.transactions
    emit("log_group_commit_append", Double(appenders * perAppender) / concurrent, "appends/s",
         ["appenders": appenders, "transactions": Int(transactions),
          "events_per_transaction": (Double(after.appendCalls - before.appendCalls) / Double(max(transactions, 1)) * 10).rounded() / 10])
    log.close()

case "populate":
    let (directory, keyFile, events) = (arguments[2], arguments[3], Int(arguments[4])!)
    let key = try LogKeyFile.create(at: keyFile)
    let log = try openLog(directory)
    log.setRecipients([LogRecipient(key.publicKey)], epoch: 1)
    let batch = 10_000
    for start in stride(from: 0, to: events, by: batch) {
        try await log.append((start..<min(events, start + batch)).map { NewEvent(kind: 40, body: payload($0)) })
    }
    log.close()

case "replay":
    let (directory, keyFile) = (arguments[2], arguments[3])
    let log = try openLog(directory, readOnly: true)
    let reader = log.reader(keyring: LogKeyring([try LogKeyFile.readPrivateKey(at: keyFile)]))
    var events = 0
    var bytes = 0
    let elapsed = try await seconds {
        try reader.replay { event in
            events += 1
            bytes &+= event.body.count
        }
    }
    precondition(bytes == events * bodySize, "replay returned wrong bodies")
    emit("log_replay", Double(events) / elapsed, "events/s",
         ["events": events, "threads": ProcessInfo.processInfo.activeProcessorCount, "body_bytes": bodySize])
    emit("log_replay_peak_resident", status("VmHWM") / 1024, "MB", ["events": events, "anonymous_now_mb": (status("RssAnon") / 1024).rounded()])

default:
    FileHandle.standardError.write(Data("unknown mode \(arguments[1])\n".utf8))
    exit(2)
}
