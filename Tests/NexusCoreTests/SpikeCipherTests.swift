import Crypto
import Foundation
import NexusCore
import Testing

/// SPIKE's cipher formats (reference §8), without HTTP.
@Suite struct SpikeCipherTests {
    @Test func aSealedValueOpensUnderItsKeyOnly() throws {
        let key = SymmetricKey(size: .bits256)
        let (nonce, ciphertext) = try SpikeCipher.seal(Data("hello".utf8), key: key)
        #expect(nonce.count == SpikeCipher.nonceSize && ciphertext.count == 5 + 16)
        #expect(SpikeCipher.open(nonce: nonce, ciphertext: ciphertext, key: key) == Data("hello".utf8))
        #expect(SpikeCipher.open(nonce: nonce, ciphertext: ciphertext, key: SymmetricKey(size: .bits256)) == nil)
        var tampered = ciphertext
        tampered[0] ^= 1
        #expect(SpikeCipher.open(nonce: nonce, ciphertext: tampered, key: key) == nil)
        #expect(SpikeCipher.open(nonce: nonce, ciphertext: Data(count: 15), key: key) == nil)
        #expect(SpikeCipher.open(nonce: Data(count: 3), ciphertext: ciphertext, key: key) == nil)
    }

    @Test func theStreamFormatRoundTripsAndRefusesWithSPIKEsTexts() throws {
        let key = SymmetricKey(size: .bits256)
        let (nonce, ciphertext) = try SpikeCipher.seal(Data("stream".utf8), key: key)
        let frame = SpikeCipher.streamFrame(nonce: nonce, ciphertext: ciphertext)
        #expect(frame.first == 1 && frame.count == 1 + 12 + ciphertext.count)
        func refusal(_ bytes: [UInt8]) -> SpikeCipher.StreamError? {
            if case .failure(let error) = SpikeCipher.parseStream(bytes) { return error }
            return nil
        }
        guard case .success(let parsed) = SpikeCipher.parseStream(frame) else {
            Issue.record("a stream frame did not parse")
            return
        }
        #expect(parsed.nonce == nonce && parsed.ciphertext == ciphertext)
        #expect(refusal([]) == .noVersion)
        #expect(refusal([2] + frame.dropFirst()) == .unsupportedVersion)
        #expect(refusal(Array(frame.prefix(5))) == .noNonce)
        #expect(SpikeCipher.StreamError.noNonce.rawValue == "crypto_failed_to_read_nonce")
    }
}
