import Foundation
import NexusCore
import Projections

/// What `/readyz` shows: the phase, the shares in hand against the threshold, each Keeper's
/// last outcome, and, while not ready, why.
public struct NexusStatus: Codable, Equatable, Sendable {
    public struct Keeper: Codable, Equatable, Sendable {
        public var index: Int
        public var url: String
        public var lastOutcome: KeeperPollOutcome?
        public var lastPolledAt: String?
        public var detail: String?
    }

    public var state: NexusLifecycle.Phase
    public var ready: Bool
    public var epoch: UInt32
    public var sharesInHand: Int
    public var threshold: Int
    public var keepers: [Keeper]
    public var reason: String?

    public static let starting = NexusStatus(state: .sealed, ready: false, epoch: 0, sharesInHand: 0, threshold: 0, keepers: [],
                                             reason: "starting")

    init(_ machine: NexusLifecycle, keeperURLs: [String]) {
        state = machine.phase
        ready = machine.isServing
        epoch = machine.projection.epoch
        sharesInHand = machine.sharesInHand
        threshold = machine.threshold
        keepers = keeperURLs.enumerated().map { offset, url in
            let run = machine.ledger.runs[offset + 1]
            return Keeper(index: offset + 1, url: url, lastOutcome: run?.outcome,
                          lastPolledAt: run.map { Self.timestamp(millis: $0.lastAt) }, detail: run?.detail)
        }
        switch machine.phase {
        case .uninitialized:
            reason = "not initialized: run `spike init` with the superuser identity"
        case .sealed:
            let missing = keepers.filter { $0.lastOutcome != .hasShard }
                .map { "Keeper \($0.index) \($0.lastOutcome?.rawValue ?? "not polled yet")" }
            reason = "sealed: \(sharesInHand) of \(threshold) shares in hand"
                + (missing.isEmpty ? "" : " (\(missing.joined(separator: ", ")))")
        case .ready:
            reason = machine.refusal.map { "refused: \($0)" }
        }
    }

    init(state: NexusLifecycle.Phase, ready: Bool, epoch: UInt32, sharesInHand: Int, threshold: Int, keepers: [Keeper], reason: String?) {
        self.state = state
        self.ready = ready
        self.epoch = epoch
        self.sharesInHand = sharesInHand
        self.threshold = threshold
        self.keepers = keepers
        self.reason = reason
    }

    static func timestamp(millis: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }
}

extension NexusLifecycle.Phase: Codable {}
