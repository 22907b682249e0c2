import Foundation
import NIOHTTP1
import Synchronization

/// Kept-alive connections to HTTPS endpoints, reused request after request, instead of
/// `HTTPClient.send`'s connection (and TLS handshake) per request: what the `spike` command line
/// uses for one invocation (one connection), and what a program making many requests holds.
/// At most `maxPerEndpoint` connections to one endpoint; beyond that a request waits for one to
/// be free. A connection idle for longer than `maxIdle` is closed rather than reused (the server
/// may have closed it: the Nexus closes idle ones after 120 s), and one whose request failed is
/// closed. Requests are never sent twice: a failure is the caller's to retry.
public final class HTTPConnectionPool: HTTPRequestSending {
    public let client: HTTPClient
    public let maxPerEndpoint: Int
    public let maxIdle: Duration

    /// What the pool did, for a client that reports its own timing (`spike --verbose`).
    public struct Statistics: Sendable, Equatable {
        public var connectionsOpened = 0
        public var requests = 0
        /// The time from asking for a connection to being able to send on it (TCP connect), summed.
        public var connecting: Duration = .zero
    }

    private struct State {
        var idle: [String: [(connection: KeptConnection, since: ContinuousClock.Instant)]] = [:]
        var open: [String: Int] = [:]
        var waiters: [String: [CheckedContinuation<KeptConnection?, Never>]] = [:]
        var all: [ObjectIdentifier: KeptConnection] = [:]
        var statistics = Statistics()
        var closed = false
    }

    private let state = Mutex(State())

    public init(client: HTTPClient, maxPerEndpoint: Int = 8, maxIdle: Duration = .seconds(30)) {
        precondition(maxPerEndpoint > 0)
        self.client = client
        self.maxPerEndpoint = maxPerEndpoint
        self.maxIdle = maxIdle
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Sends one request on a free connection to `baseURL` (opened if none is), within the
    /// client's timeout.
    public func send(_ method: HTTPMethod, _ baseURL: String, path: String, body: [UInt8], contentType: String?) async throws(HTTPClientError) -> HTTPClientResponse {
        let (host, port) = try HTTPClient.endpoint(baseURL)
        let endpoint = "\(host):\(port)"
        let connection = try await checkOut(endpoint, baseURL: baseURL)
        do {
            let response = try await connection.send(KeptConnection.Request(method: method, path: path, body: body, contentType: contentType),
                                                      timeout: client.timeout)
            checkIn(connection, endpoint)
            return response
        } catch {
            connection.close()
            release(connection, endpoint)
            throw error
        }
    }

    /// Closes every connection (those in use once their request is answered); later requests fail.
    public func close() {
        let connections = state.withLock { state in
            state.closed = true
            let waiting = state.waiters.values.flatMap { $0 }
            state.waiters = [:]
            for waiter in waiting { waiter.resume(returning: nil) }
            return Array(state.all.values)
        }
        for connection in connections { connection.close() }
    }

    private func checkOut(_ endpoint: String, baseURL: String) async throws(HTTPClientError) -> KeptConnection {
        enum Step { case reuse(KeptConnection), open, wait, closed }
        let now = ContinuousClock.now
        var stale: [KeptConnection] = []
        let step = state.withLock { state -> Step in
            guard !state.closed else { return .closed }
            state.statistics.requests += 1
            while let (connection, since) = state.idle[endpoint]?.popLast() {
                if since.duration(to: now) <= maxIdle, !connection.isClosed { return .reuse(connection) }
                stale.append(connection)
                state.open[endpoint, default: 1] -= 1
                state.all[ObjectIdentifier(connection)] = nil
            }
            if state.open[endpoint, default: 0] < maxPerEndpoint {
                state.open[endpoint, default: 0] += 1
                return .open
            }
            return .wait
        }
        for connection in stale { connection.close() }
        switch step {
        case .reuse(let connection): return connection
        case .open: return opened(endpoint, baseURL: baseURL)
        case .closed: throw .noResponse("the connection pool is closed")
        case .wait:
            let handed = await withCheckedContinuation { (continuation: CheckedContinuation<KeptConnection?, Never>) in
                let closed = state.withLock { state -> Bool in
                    guard !state.closed else { return true }
                    state.waiters[endpoint, default: []].append(continuation)
                    return false
                }
                if closed { continuation.resume(returning: nil) }
            }
            if let handed { return handed }
            // A slot was freed (a connection failed), or the pool closed.
            let mayOpen = state.withLock { state -> Bool in
                guard !state.closed else { return false }
                state.open[endpoint, default: 0] += 1
                return true
            }
            guard mayOpen else { throw .noResponse("the connection pool is closed") }
            return opened(endpoint, baseURL: baseURL)
        }
    }

    private func opened(_ endpoint: String, baseURL: String) -> KeptConnection {
        let connection = KeptConnection(client: client, baseURL: baseURL) { [weak self] duration in
            self?.state.withLock { $0.statistics.connecting += duration }
        }
        state.withLock { state in
            state.statistics.connectionsOpened += 1
            state.all[ObjectIdentifier(connection)] = connection
        }
        return connection
    }

    /// A connection whose request was answered: to the next waiter, or idle.
    private func checkIn(_ connection: KeptConnection, _ endpoint: String) {
        let (waiter, closed) = state.withLock { state -> (CheckedContinuation<KeptConnection?, Never>?, Bool) in
            if state.closed { return (nil, true) }
            if let waiter = state.waiters[endpoint]?.first {
                state.waiters[endpoint]?.removeFirst()
                return (waiter, false)
            }
            state.idle[endpoint, default: []].append((connection, .now))
            return (nil, false)
        }
        if closed { connection.close() }
        waiter?.resume(returning: connection)
    }

    /// A connection closed after a failure: its slot goes to the next waiter, who opens another.
    private func release(_ connection: KeptConnection, _ endpoint: String) {
        let waiter = state.withLock { state -> CheckedContinuation<KeptConnection?, Never>? in
            state.open[endpoint, default: 1] -= 1
            state.all[ObjectIdentifier(connection)] = nil
            guard let waiter = state.waiters[endpoint]?.first else { return nil }
            state.waiters[endpoint]?.removeFirst()
            return waiter
        }
        waiter?.resume(returning: nil)
    }
}

/// One kept-alive connection: a task holds it open (`HTTPClient.withConnection`) and sends the
/// requests given to it one after the other. It ends at the first failure, answering every
/// request still queued with that failure.
final class KeptConnection: Sendable {
    struct Request: Sendable {
        var method: HTTPMethod
        var path: String
        var body: [UInt8]
        var contentType: String?
    }

    private struct Job: Sendable {
        var request: Request
        var reply: @Sendable (Result<HTTPClientResponse, HTTPClientError>) -> Void
    }

    /// What the connection's task and its callers share.
    private final class Shared: Sendable {
        let ended = Atomic<Bool>(false)
    }

    /// A request's answer: from the connection, or from the timer, whichever comes first.
    private final class Answer: Sendable {
        let continuation = Mutex<CheckedContinuation<Result<HTTPClientResponse, HTTPClientError>, Never>?>(nil)
        let timer = Mutex<Task<Void, Never>?>(nil)

        /// Answers the request unless it was answered already; whether it was not.
        @discardableResult
        func give(_ result: Result<HTTPClientResponse, HTTPClientError>) -> Bool {
            guard let continuation = continuation.withLock({ $0.take() }) else { return false }
            timer.withLock { $0.take() }?.cancel()
            continuation.resume(returning: result)
            return true
        }
    }

    private let jobs: AsyncStream<Job>.Continuation
    private let task: Task<Void, Never>
    private let shared = Shared()

    init(client: HTTPClient, baseURL: String, connected: @escaping @Sendable (Duration) -> Void) {
        let (stream, jobs) = AsyncStream.makeStream(of: Job.self)
        self.jobs = jobs
        let shared = self.shared
        task = Task {
            let started = ContinuousClock.now
            var current: Job?
            let failure: HTTPClientError
            var pending = stream.makeAsyncIterator()
            do {
                try await client.withConnection(baseURL) { session in
                    connected(started.duration(to: .now))
                    while let job = await pending.next() {
                        current = job
                        let response = try await session.send(job.request.method, path: job.request.path, body: job.request.body,
                                                              contentType: job.request.contentType)
                        current = nil
                        job.reply(.success(response))
                    }
                }
                failure = .noResponse("the connection was closed")
            } catch {
                failure = error as? HTTPClientError ?? .noResponse("\(error)")
            }
            shared.ended.store(true, ordering: .releasing)
            current?.reply(.failure(failure))
            jobs.finish()
            while let job = await pending.next() { job.reply(.failure(failure)) }
        }
    }

    deinit {
        jobs.finish()
    }

    var isClosed: Bool { shared.ended.load(ordering: .acquiring) }

    /// Sends `request` once this connection is done with the ones before it; gives up after
    /// `timeout` (and closes the connection: its answer could still come, out of turn).
    func send(_ request: Request, timeout: Duration) async throws(HTTPClientError) -> HTTPClientResponse {
        let answer = Answer()
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<HTTPClientResponse, HTTPClientError>, Never>) in
            answer.continuation.withLock { $0 = continuation }
            let task = self.task
            answer.timer.withLock { timer in
                timer = Task {
                    guard (try? await Task.sleep(for: timeout)) != nil else { return }
                    // Its answer could still come, out of turn: the connection goes.
                    if answer.give(.failure(.timedOut(timeout))) { task.cancel() }
                }
            }
            let job = Job(request: request) { answer.give($0) }
            if case .terminated = jobs.yield(job) { job.reply(.failure(.noResponse("the connection was closed"))) }
        }
        return try result.get()
    }

    /// Ends the connection once the request it is sending (if any) is answered.
    func close() {
        jobs.finish()
    }
}
