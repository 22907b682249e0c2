/// Copies a log from one store to another record by record, unchanged: the bytes, and so the
/// chain, the head, the segment keys' envelopes and the authenticators, are the source's. The
/// target must hold the same log id (create it with the source's) and no record. Each
/// transaction carries a batch of records and the head they end at, so a copy that stops half
/// way leaves a shorter but whole log; the key table goes with the last batch, so the target's
/// keys are the source's as of its head.
package enum LogCopy {
    package struct Result: Sendable, Equatable {
        package var records: UInt64
        package var head: ChainHead?
        package var keys: Int
    }

    package static func copy(
        from source: any RecordStorage, to target: any RecordStorage, logID: LogID, batch: UInt64 = 4096,
        progress: (UInt64) -> Void = { _ in }
    ) throws -> Result {
        // The head and the key table from one view: a consistent end to copy to.
        let (sourceHead, keys) = try source.read { view in (try view.committedHead(), try view.keyTable()) }
        let targetHead = try target.read { try $0.committedHead() }
        guard targetHead == nil, try target.read({ try $0.lastStoredSequence() }) == nil else {
            throw LogError.copyTargetNotEmpty(records: targetHead?.sequence ?? 0)
        }
        guard let sourceHead else { return Result(records: 0, head: nil, keys: 0) }
        let crypto = RecordCrypto()
        var walk = ChainWalk(from: 1, logID: logID, crypto: crypto)
        var copied: UInt64 = 0
        while copied < sourceHead.sequence {
            let first = copied + 1
            let last = min(sourceHead.sequence, copied + batch)
            walk = try source.read { view in
                // A storage may run the body again (LMDB growing its map): it walks from a copy.
                try target.write { txn in
                    var walk = walk
                    var reached = copied
                    try view.forEachRecord(from: first, through: last) { key, record in
                        let step = walk.step(key: key, value: record)
                        if let finding = step.findings.first {
                            let (sequence, reason) = finding.blame(at: step.sequence)
                            throw LogError.corruptRecord(sequence: sequence, reason: reason)
                        }
                        let space = try txn.reserveRecord(sequence: step.sequence, count: record.count)
                        space.copyMemory(from: record)
                        reached = step.sequence
                        return step.sequence < last
                    }
                    guard reached == last, let link = walk.link else {
                        throw LogError.corruptRecord(sequence: reached + 1, reason: "missing")
                    }
                    let head = ChainHead(sequence: last, hash: link)
                    if last == sourceHead.sequence {
                        guard head == sourceHead else {
                            throw LogError.corruptRecord(sequence: last, reason: "its chain link differs from the committed head's")
                        }
                        try txn.applyKeyChanges(KeyTableChanges(puts: keys.map { KeyTableEntry(id: $0.key, value: $0.value) }))
                    }
                    try txn.writeHead(head)
                    return walk
                }
            }
            copied = last
            progress(copied)
        }
        return Result(records: copied, head: sourceHead, keys: keys.count)
    }
}
