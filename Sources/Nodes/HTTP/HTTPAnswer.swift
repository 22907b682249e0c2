import NIOHTTP1

/// Hands a deferred answer its response, or the error a route threw (`HTTPRouter` answers it):
/// exactly once, from any thread.
public typealias HTTPReply = @Sendable (Result<HTTPResponse, any Error>) -> Void

/// How a route answers. Most requests are answered from memory (a secret read, a policy, a
/// cipher operation): `now`, on the connection's event loop, with no task and no hop between
/// threads (ADR-0022). Work that waits (a durable write, a lifecycle decision) answers
/// `deferred`: it is started on the event loop and calls its reply when done.
public enum HTTPAnswer: Sendable {
    case now(HTTPResponse)
    case deferred(@Sendable (_ reply: @escaping HTTPReply) -> Void)

    /// Work written as an async function, run as a task.
    public static func async(_ work: @escaping @Sendable () async throws -> HTTPResponse) -> HTTPAnswer {
        .deferred { reply in
            Task {
                do {
                    reply(.success(try await work()))
                } catch {
                    reply(.failure(error))
                }
            }
        }
    }
}
