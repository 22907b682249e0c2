extension EventLog {
    /// Calls `body` with the clear header of every record (segment records included) from
    /// `start` through `end` (at most the head when the call began), checking the hash chain as
    /// `LogReader.replay` does, and opening nothing: what a tool without a key can see (sequence,
    /// time, epoch, kind, sizes). Throws at the first damaged record. Returns the records seen.
    @discardableResult
    public func walkHeaders(from start: UInt64 = 1, through end: UInt64? = nil, _ body: (RecordHeader) throws -> Void) throws -> UInt64 {
        let head = try self.head() ?? .empty(logID)
        let first = max(start, 1)
        let last = end.map { Swift.min($0, head.sequence) } ?? head.sequence
        guard first <= last else { return 0 }
        let crypto = RecordCrypto()
        var walk = ChainWalk(from: first, logID: logID, crypto: crypto)
        var next = first
        var bytes = 0
        // One read transaction per chunk, so that a walk over a large log does not pin an old
        // snapshot (and the writer's free pages) for its whole length.
        while next <= last {
            let chunkEnd = Swift.min(last, next + 65_535)
            try environment.read { txn in
                try txn.forEach(environment.events, from: sequenceKey(next)) { key, value in
                    let step = walk.step(key: key, value: value)
                    if let finding = step.findings.first {
                        let (sequence, reason) = finding.blame(at: step.sequence)
                        throw LogError.corruptRecord(sequence: sequence, reason: reason)
                    }
                    bytes += value.count
                    try body(step.header!)
                    return step.sequence < chunkEnd
                }
            }
            guard walk.expected > chunkEnd else { throw LogError.corruptRecord(sequence: walk.expected, reason: "missing") }
            next = chunkEnd + 1
            if bytes >= 64 << 20 {
                environment.releaseMappedPages()
                bytes = 0
            }
        }
        if last == head.sequence, walk.link != head.hash {
            throw LogError.corruptRecord(sequence: head.sequence, reason: "its chain link differs from the committed head's")
        }
        return last - first + 1
    }
}
