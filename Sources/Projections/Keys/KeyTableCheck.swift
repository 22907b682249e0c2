import Crypto

/// Whether the key table still holds, for every version that was not destroyed, the key that
/// opens its value (`spike log verify` with the root key). The table is the one part of the log
/// that is deleted from (crypto-shredding, always in the transaction of the event that explains
/// it); a key deleted or swapped outside an event would otherwise look like a secret that is not
/// there, and the Nexus would serve a 404.
public enum KeyTableCheck {
    public struct Problem: Equatable, Sendable, CustomStringConvertible {
        public enum Kind: String, Sendable { case missing, wrong }
        public var path: String
        public var version: Int
        public var kind: Kind

        public init(path: String, version: Int, kind: Kind) {
            self.path = path
            self.version = version
            self.kind = kind
        }

        public var description: String {
            switch kind {
            case .missing: "\(path) version \(version): its key is not in the key table (deleted outside an event)"
            case .wrong: "\(path) version \(version): the key under its id does not open its value (swapped or damaged)"
            }
        }
    }

    /// The problems of `data`'s versions against `keyTable`, whose version keys are wrapped under
    /// `dataKey` (the current epoch's); and how many versions were checked.
    public static func check(_ data: DataProjection, keyTable: [[UInt8]: [UInt8]], dataKey: DataKey) -> (problems: [Problem], checked: Int) {
        var problems: [Problem] = []
        var checked = 0
        for (path, entry) in data.secrets.sorted(by: { $0.key < $1.key }) {
            for (number, version) in entry.versions.sorted(by: { $0.key < $1.key }) where !version.destroyed {
                checked += 1
                guard let wrapped = keyTable[version.keyID] else {
                    problems.append(Problem(path: path, version: number, kind: .missing))
                    continue
                }
                do {
                    _ = try VersionSeal.openJSON(version.sealedValue, wrappedKey: wrapped, keyID: version.keyID, path: path,
                                                 version: number, epoch: version.epoch, dataKey: dataKey)
                } catch {
                    problems.append(Problem(path: path, version: number, kind: .wrong))
                }
            }
        }
        return (problems, checked)
    }
}
