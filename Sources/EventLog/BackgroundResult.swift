import Dispatch

/// A value computed on a background queue and awaited by one blocking consumer: the unit of the
/// log's ordered pipelines (the reader's chunks, the writer's sealed batches). `value()` may be
/// called again and returns the same result.
final class BackgroundResult<Value: Sendable>: @unchecked Sendable {
    private let ready = DispatchSemaphore(value: 0)
    private var result: Result<Value, any Error>?
    private var consumed = false

    /// Starts `work` on `queue`.
    init(on queue: DispatchQueue, _ work: @escaping @Sendable () throws -> Value) {
        queue.async {
            self.result = Result { try work() }
            self.ready.signal()
        }
    }

    /// Computes `work` now, on the calling thread: for work too small to be worth a thread hop.
    init(computingNow work: () throws -> Value) {
        result = Result { try work() }
        consumed = true
    }

    /// Blocks until the work has finished; rethrows its error.
    func value() throws -> Value {
        if !consumed {
            ready.wait()
            consumed = true
        }
        return try result!.get()
    }
}
