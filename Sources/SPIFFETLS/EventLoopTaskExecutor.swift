import NIOCore

/// Runs a task's nonisolated work on one event loop, the loop of the connection it serves.
///
/// The peer's chain is validated by swift-certificates' `Verifier`, which is `async`; a plain
/// `Task` would queue that work on Swift's cooperative pool, so a handshake would wait for
/// whatever else holds the pool (a busy process, a long synchronous job) and could time out.
/// With this executor preferred, the validation runs on the connection's own loop, where
/// BoringSSL's own checks would have run, and needs nothing else to be free.
final class EventLoopTaskExecutor: TaskExecutor, Sendable {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
