import NIOHTTP1

/// Answers the data routes 503 `state_not_ready` until the Nexus serves (its root key is in
/// memory and its log's data events are confirmed; reference §2.1).
struct ReadinessMiddleware: HTTPMiddleware {
    let node: NexusNode

    func handle(_ request: HTTPRequest, next: HTTPHandler) throws -> HTTPAnswer {
        guard node.isServing else { throw APIFailure.notReady }
        return try next(request)
    }
}
