/// Shamir's secret sharing of a 32-byte secret over GF(2^8): byte by byte, a random polynomial of
/// degree t−1 whose constant term is the secret byte, evaluated at x = 1…n (the Keeper's index).
/// Any t shares give the secret back; fewer give nothing about it.
public enum Shamir {
    public static let secretLength = 32

    /// One share: the x coordinate (the Keeper's index, 1…255) and 32 y bytes. Printing one
    /// shows its index only: shares must never reach a log.
    public struct Share: Equatable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
        public let index: UInt8
        public var value: [UInt8]

        public init(index: UInt8, value: [UInt8]) {
            self.index = index
            self.value = value
        }

        public var description: String { "Share(index: \(index), \(value.count) bytes redacted)" }
        public var debugDescription: String { description }
    }

    /// Splits `secret` into `shares` shares, any `threshold` of which recover it.
    public static func split(
        _ secret: [UInt8], threshold: Int, shares: Int
    ) throws(ShamirError) -> [Share] {
        var generator = SystemRandomNumberGenerator()
        return try split(secret, threshold: threshold, shares: shares, using: &generator)
    }

    /// `split` with a chosen random source (for known-answer tests).
    public static func split(
        _ secret: [UInt8], threshold: Int, shares: Int, using generator: inout some RandomNumberGenerator
    ) throws(ShamirError) -> [Share] {
        guard (1...255).contains(shares), (1...shares).contains(threshold) else {
            throw .invalidParameters(threshold: threshold, shares: shares)
        }
        guard secret.count == secretLength else { throw .wrongSecretLength(secret.count) }
        guard secret.contains(where: { $0 != 0 }) else { throw .zeroSecret }
        while true {
            // coefficients[j][k]: coefficient of x^k for byte j; k = 0 is the secret byte.
            var coefficients = [UInt8](repeating: 0, count: secretLength * threshold)
            defer { zero(&coefficients) }
            for j in 0..<secretLength {
                coefficients[j * threshold] = secret[j]
                for k in 1..<threshold {
                    coefficients[j * threshold + k] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            let result = evaluate(coefficients: coefficients, threshold: threshold, shares: shares)
            // An all-zero share is refused on the way back in (a Keeper's empty state looks like
            // it), so never hand one out; with a random polynomial this is a 2^-256 event.
            if result.allSatisfy({ $0.value.contains { $0 != 0 } }) {
                return result
            }
        }
    }

    /// Recovers the secret from at least `threshold` distinct shares (the first `threshold` are
    /// used).
    public static func combine(_ shares: [Share], threshold: Int) throws(ShamirError) -> [UInt8] {
        guard (1...255).contains(threshold) else { throw .invalidParameters(threshold: threshold, shares: shares.count) }
        var seen = Set<UInt8>()
        for share in shares {
            guard share.index != 0 else { throw .zeroIndex }
            guard seen.insert(share.index).inserted else { throw .duplicateIndex(share.index) }
            guard share.value.count == secretLength else { throw .wrongShareLength(index: share.index, length: share.value.count) }
            guard share.value.contains(where: { $0 != 0 }) else { throw .allZeroShare(index: share.index) }
        }
        guard shares.count >= threshold else { throw .notEnoughShares(have: shares.count, need: threshold) }
        let used = Array(shares.prefix(threshold))
        // Lagrange basis at 0: l_i = Π_{m≠i} x_m / (x_m − x_i); subtraction is XOR.
        let basis = used.indices.map { i in
            used.indices.reduce(UInt8(1)) { product, m in
                m == i ? product : GF256.multiply(product, GF256.divide(used[m].index, used[m].index ^ used[i].index))
            }
        }
        return (0..<secretLength).map { j in
            used.indices.reduce(UInt8(0)) { sum, i in sum ^ GF256.multiply(basis[i], used[i].value[j]) }
        }
    }

    /// The shares at x = 1…`shares` of the polynomials in `coefficients` (for byte j, the
    /// coefficient of x^k is at j·threshold + k).
    static func evaluate(coefficients: [UInt8], threshold: Int, shares: Int) -> [Share] {
        (1...shares).map { x in
            Share(index: UInt8(x), value: (0..<secretLength).map { j in
                evaluate(coefficients[(j * threshold)..<((j + 1) * threshold)], at: UInt8(x))
            })
        }
    }

    /// Horner's rule at x.
    private static func evaluate(_ coefficients: ArraySlice<UInt8>, at x: UInt8) -> UInt8 {
        coefficients.reversed().reduce(UInt8(0)) { GF256.multiply($0, x) ^ $1 }
    }

    /// Overwrites key material before it is released.
    public static func zero(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            for index in buffer.indices { buffer[index] = 0 }
        }
    }
}

/// Why shares could not be made or combined.
public enum ShamirError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidParameters(threshold: Int, shares: Int)
    case wrongSecretLength(Int)
    case zeroSecret
    case wrongShareLength(index: UInt8, length: Int)
    case zeroIndex
    case duplicateIndex(UInt8)
    case notEnoughShares(have: Int, need: Int)
    case allZeroShare(index: UInt8)

    public var description: String {
        switch self {
        case .invalidParameters(let t, let n): "a \(t)-of-\(n) split is impossible: need 1 ≤ threshold ≤ shares ≤ 255"
        case .wrongSecretLength(let n): "the secret is \(n) bytes; it must be \(Shamir.secretLength)"
        case .zeroSecret: "the secret is all zeros; a root key must be random"
        case .wrongShareLength(let index, let n): "share \(index) is \(n) bytes; it must be \(Shamir.secretLength)"
        case .zeroIndex: "a share has index 0, which would be the secret itself; indexes run from 1"
        case .duplicateIndex(let index): "share \(index) was given twice"
        case .notEnoughShares(let have, let need): "\(have) share(s) given, \(need) needed"
        case .allZeroShare(let index): "share \(index) is all zeros (an empty Keeper's answer, not a share)"
        }
    }
}
