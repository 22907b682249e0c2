import NexusCore
import Projections
import Testing

/// What each answer of a Keeper means (reference §5, ADR-0022): the table the poller and the
/// simulator share.
@Suite struct KeeperAnswerTests {
    static let share = (1...32).map { UInt8($0) }
    static func json(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func answersOverHTTP() {
        let shareJSON = Self.json("{\"shard\":[\(Self.share.map(String.init).joined(separator: ","))]}")
        let table: [(Int, [UInt8], KeeperPollOutcome, String?)] = [
            (200, shareJSON, .hasShard, nil),
            // An all-zero share is SPIKE's empty Keeper.
            (200, Self.json("{\"shard\":[\(Array(repeating: "0", count: 32).joined(separator: ","))]}"), .empty, nil),
            (200, Self.json(#"{"shard":null}"#), .empty, nil),
            (200, Self.json(#"{"shard":[1,2,3]}"#), .error, "a shard of 3 bytes"),
            (200, Self.json("not json"), .error, "a 200 answer that is not a shard"),
            (404, [], .empty, nil),
            // SPIKE's Keeper answers an empty state with 400 and a null shard; another 400 is an error.
            (400, Self.json(#"{"shard":null,"err":"x"}"#), .empty, nil),
            (400, Self.json("garbage"), .error, "HTTP 400"),
            (401, [], .refused, "HTTP 401: the Keeper does not accept this Nexus' SPIFFE ID"),
            (403, [], .refused, "HTTP 403: the Keeper does not accept this Nexus' SPIFFE ID"),
            (500, [], .error, "HTTP 500"),
        ]
        for (status, body, outcome, detail) in table {
            let result = KeeperAnswer.classify(status: status, body: body)
            #expect(result.outcome == outcome && result.detail == detail, "HTTP \(status) \(String(decoding: body, as: UTF8.self))")
        }
        if case .shard(let value) = KeeperAnswer.classify(status: 200, body: shareJSON) {
            #expect(value == Self.share)
        } else {
            Issue.record("a 200 with a share is not a share")
        }
    }

    @Test func failuresBelowHTTP() {
        #expect(KeeperAnswer.classify(.unreachable("connection refused")).outcome == .unreachable)
        let timeout = KeeperAnswer.classify(.timedOut("2 seconds"))
        #expect(timeout.outcome == .unreachable && timeout.detail == "no answer within 2 seconds")
        #expect(KeeperAnswer.classify(.tlsRefused("certificate unknown")).outcome == .refused)
        #expect(KeeperAnswer.classify(.noResponse("closed")).outcome == .error)
    }
}
