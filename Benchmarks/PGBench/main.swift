// The PostgreSQL event store's figures, one JSON line each; `scripts/bench pg` runs them against
// a private server and adds the ratios.
//
//   PGBench append URL APPENDERS SECONDS     durable appends/s through PostgresEventStore: APPENDERS
//                                            tasks appending one 200-byte event at a time (group commit
//                                            on the store's one write connection)
//   PGBench inserts URL CONNECTIONS SECONDS  the baseline: CONNECTIONS connections each inserting one
//                                            row of the same record size per transaction (durable each)
//   PGBench replay URL KEY_FILE              a full replay (read, chain check, decrypt) of the log
import Crypto
import EventLog
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresEventStore
import PostgresNIO

let bodySize = 200
/// A stored record of a 200-byte body: 68-byte header, 12-byte nonce, body, 16-byte tag.
let recordSize = 296

func emit(_ name: String, _ value: Double, _ unit: String, _ extra: [String: Any] = [:]) {
    var object: [String: Any] = ["name": name, "value": (value * 10).rounded() / 10, "unit": unit]
    object.merge(extra) { $1 }
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

func elapsed(since start: ContinuousClock.Instant) -> Double {
    let duration = start.duration(to: .now)
    return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

let arguments = CommandLine.arguments
guard arguments.count >= 4, let url = try? PostgresURL(arguments[2], environment: ProcessInfo.processInfo.environment) else {
    FileHandle.standardError.write(Data("usage: see Benchmarks/PGBench/main.swift\n".utf8))
    exit(2)
}

switch arguments[1] {
case "append":
    let (appenders, duration) = (Int(arguments[3])!, Double(arguments[4])!)
    let store = try PostgresEventStore.open(url: url)
    // The key the replay figure opens the log with, when a file for it is named.
    let key = arguments.count > 5 ? try LogKeyFile.create(at: arguments[5]) : Curve25519.KeyAgreement.PrivateKey()
    store.setRecipients([LogRecipient(key.publicKey)], epoch: 1)
    let body = [UInt8](repeating: 0x5a, count: bodySize)
    let start = ContinuousClock.now
    let deadline = start + .seconds(duration)
    let before = store.statistics
    let appended = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<appenders {
            group.addTask {
                var count = 0
                while ContinuousClock.now < deadline {
                    try await store.append(kind: 40, body: body)
                    count += 1
                }
                return count
            }
        }
        var total = 0
        for try await count in group { total += count }
        return total
    }
    let seconds = elapsed(since: start)
    let after = store.statistics
    let transactions = after.transactions - before.transactions
    emit("pg_store_group_commit_append", Double(appended) / seconds, "appends/s",
         ["appenders": appenders, "write_connections": 1, "transactions": Int(transactions), "body_bytes": bodySize,
          "events_per_transaction": (Double(appended) / Double(max(transactions, 1)) * 10).rounded() / 10])
    store.close()

case "inserts":
    let (connections, duration) = (Int(arguments[3])!, Double(arguments[4])!)
    let logger = Logger(label: "pgbench")
    let configuration = try url.configuration()
    let setup = try await PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: 0, logger: logger).get()
    _ = try await setup.query("DROP TABLE IF EXISTS bench_rows", logger: logger).get()
    _ = try await setup.query("CREATE TABLE bench_rows (sequence bigint PRIMARY KEY, record bytea NOT NULL)", logger: logger).get()
    try await setup.close().get()
    let record = ByteBuffer(bytes: [UInt8](repeating: 0xa5, count: recordSize))
    let start = ContinuousClock.now
    let deadline = start + .seconds(duration)
    let inserted = try await withThrowingTaskGroup(of: Int.self) { group in
        for connectionIndex in 0..<connections {
            group.addTask {
                let connection = try await PostgresConnection.connect(
                    on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: connectionIndex + 1, logger: logger).get()
                var count = 0
                do {
                    while ContinuousClock.now < deadline {
                        let sequence = Int64(connectionIndex) << 40 | Int64(count)
                        try await connection.query("INSERT INTO bench_rows (sequence, record) VALUES (\(sequence), \(record))", logger: logger)
                        count += 1
                    }
                } catch {
                    try await connection.close().get()
                    throw error
                }
                try await connection.close().get()
                return count
            }
        }
        var total = 0
        for try await count in group { total += count }
        return total
    }
    emit("pg_insert_loop", Double(inserted) / elapsed(since: start), "rows/s",
         ["connections": connections, "row_bytes": recordSize, "rows_per_transaction": 1])

case "replay":
    let keyring = LogKeyring([try LogKeyFile.readPrivateKey(at: arguments[3])])
    var options = PostgresEventStore.Options()
    options.readOnly = true
    let store = try PostgresEventStore.open(url: url, options: options)
    let start = ContinuousClock.now
    let events = try store.replay(from: 1, through: nil, keyring: keyring) { _ in }
    emit("pg_store_replay", Double(events) / elapsed(since: start), "events/s", ["events": Int(events)])
    store.close()

default:
    FileHandle.standardError.write(Data("usage: see Benchmarks/PGBench/main.swift\n".utf8))
    exit(2)
}
