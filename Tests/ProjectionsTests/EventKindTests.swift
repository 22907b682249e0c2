import Projections
import Testing

@Suite struct EventKindTests {
    @Test func kindNumbersAreUnique() {
        let numbers = EventKind.allCases.map(\.rawValue)
        #expect(Set(numbers).count == numbers.count)
    }

    @Test func namesAreTheDesignsVocabulary() {
        #expect(EventKind.shardDistributed.name == "ShardDistributed")
        #expect(EventKind.keeperPolled.name == "KeeperPolled")
        #expect(EventKind.name(of: 9999) == "Kind9999")
    }
}
