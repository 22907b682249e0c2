import Crypto
import EventLog
import Foundation

/// A log head as the Nexus hands it to a Keeper to keep (DESIGN §3, "witnessed"): the head's
/// sequence and chain link, bound to the log and the epoch by an HMAC under a key derived from
/// the root key. The chain alone is keyless: whoever can write the data directory can drop the
/// newest records and rewrite the head, or put an old backup back. A Keeper holds the newest
/// witness beside its share, in memory, and returns it when polled; a Nexus that comes back on a
/// log behind it, or diverging from it, has been rolled back.
public struct LogWitness: Codable, Equatable, Sendable, CustomStringConvertible {
    public var epoch: UInt32
    public var sequence: UInt64
    /// The chain link of record `sequence`, 32 bytes.
    public var link: Data
    /// HMAC-SHA256(witness key, "spike log head v1" ‖ log id ‖ epoch ‖ sequence ‖ link).
    public var mac: Data

    /// The largest a witness' JSON may be, for a Keeper to refuse anything bigger.
    public static let maxEncodedSize = 512

    public init(epoch: UInt32, sequence: UInt64, link: Data, mac: Data) {
        self.epoch = epoch
        self.sequence = sequence
        self.link = link
        self.mac = mac
    }

    /// The witness of `head`, made with the root key of `epoch`.
    public init(head: ChainHead, logID: LogID, epoch: UInt32, rootKey: RootKey) {
        let link = Data(head.hash.bytes)
        self.init(epoch: epoch, sequence: head.sequence, link: link,
                  mac: Data(HMAC<SHA256>.authenticationCode(for: Self.message(logID: logID, epoch: epoch, sequence: head.sequence, link: link),
                                                            using: rootKey.witnessKey(epoch: epoch))))
    }

    /// Whether this witness was made by a Nexus holding `rootKey` (of `epoch`) for this log.
    public func isAuthentic(logID: LogID, rootKey: RootKey, epoch: UInt32) -> Bool {
        guard self.epoch == epoch, link.count == ChainHash.size else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Self.message(logID: logID, epoch: epoch, sequence: sequence, link: link),
                                                      using: rootKey.witnessKey(epoch: epoch))
    }

    private static func message(logID: LogID, epoch: UInt32, sequence: UInt64, link: Data) -> [UInt8] {
        var message = Array("spike log head v1".utf8) + logID.bytes
        withUnsafeBytes(of: epoch.bigEndian) { message += $0 }
        withUnsafeBytes(of: sequence.bigEndian) { message += $0 }
        return message + link
    }

    /// The link in hex, as events and reports show it.
    public var linkHex: String { link.hexString }
    public var head: String { "\(sequence) (link \(linkHex.prefix(16))…)" }
    public var description: String { "LogWitness(epoch \(epoch), head \(head))" }
}
