import Projections

/// Keeps refusals from growing the log without bound (issue 13), as `KeeperPollLedger` does for
/// polls: the first refusal of an identity, operation, path and wanted permissions is written at
/// once (an auditor sees an attempt as it happens); equal ones after it, for a window, are only
/// counted, then written as one `AccessDenied` with the count and the first and last times. Every
/// refusal is accounted for; a flood of equal ones costs one event per window. Pure: the caller
/// gives the clock and writes what it is given.
public struct RefusalLedger: Sendable {
    public struct Key: Hashable, Sendable {
        public var actor: String
        public var operation: String
        public var path: String
        public var wants: [String]

        public init(actor: String, operation: String, path: String, wants: [String]) {
            self.actor = actor
            self.operation = operation
            self.path = path
            self.wants = wants
        }
    }

    /// An event to write and whose it is.
    public struct Write: Sendable {
        public var actor: String
        public var trail: String
        public var denied: AccessDenied
    }

    private struct Window {
        var openedAt: Int64
        var repeats = 0
        var firstRepeatAt: Int64 = 0
        var lastRepeatAt: Int64 = 0
        var trail = ""
    }

    public let windowMillis: Int64
    /// Windows open at once at most; past it every window is closed (summaries written), so that
    /// refusals on ever new paths cost memory only up to here.
    public let maxWindows: Int
    /// Paths one identity may have windows for at once; its refusals on further paths share one
    /// window, path `*` (so that cycling through paths does not write an event per request).
    public let maxPathsPerActor: Int
    public static let variousPaths = "*"
    private var windows: [Key: Window] = [:]
    private var windowsByActor: [String: Int] = [:]

    public init(windowMillis: Int64 = 60_000, maxWindows: Int = 4096, maxPathsPerActor: Int = 32) {
        self.windowMillis = windowMillis
        self.maxWindows = maxWindows
        self.maxPathsPerActor = maxPathsPerActor
    }

    /// Refusals counted but not written yet.
    public var pending: Int { windows.values.reduce(0) { $0 + $1.repeats } }

    /// One refusal at `now` (ms since 1970): what to write now (the first of a window, and any
    /// summaries the window limit closes), or nothing.
    public mutating func refused(_ key: Key, trail: String, at now: Int64) -> [Write] {
        var key = key
        if windows[key] == nil, windowsByActor[key.actor, default: 0] >= maxPathsPerActor {
            key.path = Self.variousPaths
        }
        if windows[key] != nil {
            windows[key]!.repeats += 1
            if windows[key]!.repeats == 1 { windows[key]!.firstRepeatAt = now }
            windows[key]!.lastRepeatAt = now
            windows[key]!.trail = trail
            return []
        }
        var writes: [Write] = windows.count >= maxWindows ? drain() : []
        windows[key] = Window(openedAt: now)
        windowsByActor[key.actor, default: 0] += 1
        writes.append(Write(actor: key.actor, trail: trail,
                            denied: AccessDenied(operation: key.operation, path: key.path, wants: key.wants, at: now)))
        return writes
    }

    /// The summaries of windows that have ended by `now`; those windows close.
    public mutating func due(at now: Int64) -> [Write] {
        let ended = windows.filter { now - $0.value.openedAt >= windowMillis }
        for key in ended.keys {
            windows[key] = nil
            windowsByActor[key.actor, default: 1] -= 1
            if windowsByActor[key.actor] == 0 { windowsByActor[key.actor] = nil }
        }
        return Self.summaries(ended)
    }

    /// Every summary, and every window closed: at a stop.
    public mutating func drain() -> [Write] {
        defer {
            windows = [:]
            windowsByActor = [:]
        }
        return Self.summaries(windows)
    }

    private static func summaries(_ windows: [Key: Window]) -> [Write] {
        windows.filter { $0.value.repeats > 0 }
            .sorted { ($0.value.firstRepeatAt, $0.key.actor, $0.key.path) < ($1.value.firstRepeatAt, $1.key.actor, $1.key.path) }
            .map { key, window in
                Write(actor: key.actor, trail: window.trail,
                      denied: AccessDenied(operation: key.operation, path: key.path, wants: key.wants, at: window.lastRepeatAt,
                                           count: window.repeats, firstAt: window.firstRepeatAt))
            }
    }
}
