import Synchronization

/// Tells waiting tail readers that the committed head moved. In-process only: a reader of a log
/// written by another process sees new records when it next reads.
final class HeadNotifier: Sendable {
    private struct State {
        var head: UInt64 = 0
        var closed = false
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    init(head: UInt64) {
        state.withLock { $0.head = head }
    }

    var head: UInt64 { state.withLock { $0.head } }
    var isClosed: Bool { state.withLock { $0.closed } }

    func publish(head: UInt64) {
        let waiters = state.withLock { state in
            state.head = max(state.head, head)
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func close() {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the head is beyond `sequence`, the log is closed, or the task is cancelled.
    func wait(beyond sequence: UInt64) async {
        let id = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state in
                    if state.head > sequence || state.closed || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
