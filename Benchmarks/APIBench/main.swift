import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SPIFFE
import SPIFFETLS
import SpikeClient

// The load generator of `scripts/bench api`: N keep-alive connections over SPIFFE mutual TLS,
// each sending its requests one after the other for a while, from its event loop (`ClosedLoop`,
// ADR-0023); prints JSON lines with the throughput and the latency percentiles. Any answer but
// 200 fails the run.
//
//   APIBench run NAME URL MODE CONNECTIONS SECONDS   (MODE: read | write | static; URL may be a
//                                                    comma-separated list: the connections take turns)
//   APIBench lag NAME URL_A URL_B SAMPLES             a write acknowledged by replica A, then reads of
//                                                    it on replica B until it is there: the time between
//   APIBench populate URL COUNT CONNECTIONS
//   APIBench soak URL WORKERS STEADY_SECONDS FAULT_SECONDS LEDGER   (see Soak.swift)
//   APIBench verify URL LEDGER
// The identity is the PEM files in SPIKE_SVID_CERT_FILE, SPIKE_SVID_KEY_FILE, SPIKE_TRUST_BUNDLE_FILE.

struct Request: Sendable {
    var method: HTTPMethod
    var path: String
    var body: @Sendable (_ connection: Int, _ counter: Int) -> [UInt8]
}

func request(for mode: String) -> Request? {
    switch mode {
    case "read": Request(method: .POST, path: "/v1/store/secrets?action=get") { _, _ in Array(#"{"path":"bench/read"}"#.utf8) }
    case "write": Request(method: .POST, path: "/v1/store/secrets") { connection, counter in
        Array(#"{"path":"bench/write/\#(connection)","values":{"counter":"\#(counter)","password":"0123456789abcdef0123456789abcdef"}}"#.utf8)
    }
    case "populate": Request(method: .POST, path: "/v1/store/secrets") { _, counter in
        Array(#"{"path":"bench/populate/\#(counter)","values":{"username":"user-\#(counter)","password":"0123456789abcdef0123456789abcdef"}}"#.utf8)
    }
    case "static": Request(method: .GET, path: "/small") { _, _ in [] }
    default: nil
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    let limit: Int
    init(limit: Int) { self.limit = limit }
    /// The next number below `limit`, or nil when all are taken.
    func take() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < limit else { return nil }
        next += 1
        return next - 1
    }
}

func nanoseconds(_ duration: Duration) -> Int64 {
    duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
}

/// How long after replica A acknowledged a write replica B serves it: `samples` writes of new
/// paths through A, each followed by reads through B on a kept-alive connection until one answers
/// 200 (404 before: B's follower has not folded the record yet). Returns the lags (ns).
func replicaLag(writer: String, reader: String, client: HTTPClient, samples: Int) async throws -> [Int64] {
    try await client.withConnection(writer) { writing in
        try await client.withConnection(reader) { reading in
            var lags: [Int64] = []
            for sample in 0..<samples {
                let path = "bench/lag/\(UUID().uuidString)-\(sample)"
                let put = try await writing.post("/v1/store/secrets", body: Array(#"{"path":"\#(path)","values":{"v":"\#(sample)"}}"#.utf8))
                guard put.status == .ok else { throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "put answered \(put.status.code)"]) }
                let acknowledged = ContinuousClock.now
                while true {
                    let get = try await reading.post("/v1/store/secrets?action=get", body: Array(#"{"path":"\#(path)"}"#.utf8))
                    if get.status == .ok { break }
                    guard get.status == .notFound, ContinuousClock.now - acknowledged < .seconds(30) else {
                        throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "replica B answered \(get.status.code) for \(path)"])
                    }
                }
                lags.append(nanoseconds(ContinuousClock.now - acknowledged))
            }
            return lags
        }
    }
}

func emit(_ name: String, _ value: Double, _ unit: String) {
    print(#"{"name": "\#(name)", "value": \#((value * 1000).rounded() / 1000), "unit": "\#(unit)"}"#)
}

/// One connection's requests, one after the other, driven from its event loop as wrk drives its
/// connections: each response is checked and timed, and the next request written in the same
/// turn (no task or thread hand-off between them, so the load generator leaves the cores to the
/// server under test). Stops at `deadline` or when `counter` runs out, with every latency (ns).
final class ClosedLoop: ChannelInboundHandler {
    typealias InboundIn = NIOHTTPClientResponseFull
    typealias OutboundOut = HTTPClientRequestPart

    private let request: Request
    private let connection: Int
    private let head: HTTPRequestHead
    private let deadline: NIODeadline?
    private let counter: Counter
    private let done: EventLoopPromise<[Int64]>
    private var latencies: [Int64] = []
    private var started = NIODeadline.now()
    private var ended = false

    init(request: Request, connection: Int, host: String, deadline: NIODeadline?, counter: Counter, done: EventLoopPromise<[Int64]>) {
        self.request = request
        self.connection = connection
        var headers: HTTPHeaders = ["Host": host]
        if request.method == .POST { headers.add(name: "Content-Type", value: "application/json") }
        head = HTTPRequestHead(version: .http1_1, method: request.method, uri: request.path, headers: headers)
        self.deadline = deadline
        self.counter = counter
        self.done = done
        latencies.reserveCapacity(1 << 16)
    }

    /// Sends the next request, or ends the run.
    private func next(context: ChannelHandlerContext) {
        guard deadline.map({ NIODeadline.now() < $0 }) ?? true, let number = counter.take() else {
            ended = true
            done.succeed(latencies)
            context.close(promise: nil)
            return
        }
        let body = request.body(connection, number)
        var head = self.head
        head.headers.add(name: "Content-Length", value: String(body.count))
        started = .now()
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        next(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let response = unwrapInboundIn(data)
        guard response.head.status == .ok else {
            let body = response.body.map { String(buffer: $0) } ?? ""
            fail(context: context, CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "answer \(response.head.status.code): \(body)"]))
            return
        }
        latencies.append((NIODeadline.now() - started).nanoseconds)
        next(context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context: context, ChannelError.eof)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // The connection never came up (its error is the connect's): the promise is not left pending.
        fail(context: context, ChannelError.ioOnClosedChannel)
    }

    private func fail(context: ChannelHandlerContext, _ error: any Error) {
        guard !ended else { return }
        ended = true
        done.fail(error)
        context.close(promise: nil)
    }
}

/// Runs `connections` closed loops until `deadline` or until `counter` runs out; returns every
/// latency (ns). With several URLs (comma-separated), connection i goes to URL i modulo their count.
func load(url: String, client: HTTPClient, request: Request, connections: Int, deadline: ContinuousClock.Instant?, counter: Counter) async throws -> [Int64] {
    let urls = url.split(separator: ",").map(String.init)
    let until = deadline.map { NIODeadline.now() + .nanoseconds(nanoseconds(ContinuousClock.now.duration(to: $0))) }
    return try await withThrowingTaskGroup(of: [Int64].self) { group in
        for connection in 0..<connections {
            group.addTask {
                let url = urls[connection % urls.count]
                let host = try HTTPClient.endpoint(url)
                let done = NIOLockedValueBox<EventLoopFuture<[Int64]>?>(nil)
                // The loop starts once the connection is up (its requests wait in TLS for the handshake).
                _ = try await client.connect(url) { pipeline in
                    let promise = pipeline.eventLoop.makePromise(of: [Int64].self)
                    done.withLockedValue { $0 = promise.futureResult }
                    try pipeline.addHandler(ClosedLoop(request: request, connection: connection, host: "\(host.host):\(host.port)",
                                                       deadline: until, counter: counter, done: promise))
                }
                return try await done.withLockedValue { $0! }.get()
            }
        }
        return try await group.reduce(into: []) { $0 += $1 }
    }
}

let arguments = CommandLine.arguments
let environment = ProcessInfo.processInfo.environment
guard arguments.count >= 4,
      let certificate = environment["SPIKE_SVID_CERT_FILE"], let key = environment["SPIKE_SVID_KEY_FILE"], let bundle = environment["SPIKE_TRUST_BUNDLE_FILE"]
else {
    FileHandle.standardError.write(Data("usage: APIBench run NAME URL MODE CONNECTIONS SECONDS | populate URL COUNT CONNECTIONS | soak URL WORKERS STEADY FAULTS LEDGER | verify URL LEDGER (identity in SPIKE_SVID_*)\n".utf8))
    exit(2)
}
let source = try PEMFileX509Source(certificatePath: certificate, keyPath: key, bundlePath: bundle)
let client = HTTPClient(tls: SPIFFETLS(role: .client, source: source, authorizer: .any), timeout: .seconds(30))

do {
    switch arguments[1] {
    case "run" where arguments.count == 7:
        let (name, url, mode) = (arguments[2], arguments[3], arguments[4])
        guard let request = request(for: mode), let connections = Int(arguments[5]), let seconds = Int(arguments[6]) else { exit(2) }
        // A short warm-up, then the measured run.
        _ = try await load(url: url, client: client, request: request, connections: connections, deadline: .now + .seconds(1), counter: Counter(limit: .max))
        let started = ContinuousClock.now
        let latencies = try await load(url: url, client: client, request: request, connections: connections,
                                       deadline: started + .seconds(seconds), counter: Counter(limit: .max)).sorted()
        let elapsed = Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000
        emit("\(name)_throughput", Double(latencies.count) / elapsed, "requests/s")
        emit("\(name)_p50", Double(latencies[latencies.count / 2]) / 1e6, "ms")
        emit("\(name)_p99", Double(latencies[latencies.count * 99 / 100]) / 1e6, "ms")
    case "lag" where arguments.count == 6:
        guard let samples = Int(arguments[5]) else { exit(2) }
        let lags = try await replicaLag(writer: arguments[3], reader: arguments[4], client: client, samples: samples).sorted()
        emit("\(arguments[2])_p50", Double(lags[lags.count / 2]) / 1e6, "ms")
        emit("\(arguments[2])_p99", Double(lags[lags.count * 99 / 100]) / 1e6, "ms")
        emit("\(arguments[2])_max", Double(lags[lags.count - 1]) / 1e6, "ms")
    case "populate" where arguments.count == 5:
        guard let count = Int(arguments[3]), let connections = Int(arguments[4]) else { exit(2) }
        let started = ContinuousClock.now
        let latencies = try await load(url: arguments[2], client: client, request: request(for: "populate")!, connections: connections,
                                       deadline: nil, counter: Counter(limit: count))
        let elapsed = Double((ContinuousClock.now - started) / .milliseconds(1)) / 1000
        emit("populate_throughput", Double(latencies.count) / elapsed, "requests/s")
    case "soak" where arguments.count == 7:
        guard let workers = Int(arguments[3]), let steady = Int(arguments[4]), let faults = Int(arguments[5]) else { exit(2) }
        try await Soak.run(url: arguments[2], client: client, workers: workers, steady: .seconds(steady), faults: .seconds(faults),
                           ledgerPath: arguments[6])
    case "verify" where arguments.count == 4:
        try await Soak.verify(url: arguments[2], client: client, ledgerPath: arguments[3])
    default:
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("APIBench: \(error)\n".utf8))
    exit(1)
}
