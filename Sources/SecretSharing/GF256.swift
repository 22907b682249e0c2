/// Arithmetic in GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11b), in constant
/// time: no table lookups and no branches that depend on the values, so shares and secrets do not
/// leak through cache or branch timing.
enum GF256 {
    @inline(__always)
    static func add(_ a: UInt8, _ b: UInt8) -> UInt8 { a ^ b }

    /// Carry-less multiplication reduced by 0x11b; eight fixed rounds with masks.
    @inline(__always)
    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = a
        var b = b
        var product: UInt8 = 0
        for _ in 0..<8 {
            product ^= a & (0 &- (b & 1))          // add a when b's low bit is set
            let carry = 0 &- (a >> 7)             // 0xff when a's high bit is set
            a = (a << 1) ^ (0x1b & carry)
            b >>= 1
        }
        return product
    }

    /// a^254 = a^-1 for a ≠ 0 (and 0 for 0), by a fixed square-and-multiply sequence.
    static func inverse(_ a: UInt8) -> UInt8 {
        // 254 = 0b11111110: square and multiply through the fixed bit pattern.
        var result: UInt8 = 1
        var power = a
        for bit in 0..<8 {
            let square = multiply(power, power)
            if (254 >> bit) & 1 == 1 {  // the exponent is public, not secret
                result = multiply(result, power)
            }
            power = square
        }
        return result
    }

    static func divide(_ a: UInt8, _ b: UInt8) -> UInt8 {
        multiply(a, inverse(b))
    }
}
