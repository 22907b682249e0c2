/// The simulators' network and timers: deliveries due at virtual times, taken in time order,
/// ties in the order they were scheduled (so that a seed replays the same).
struct DeliveryQueue<Delivery> {
    private var items: [(time: Int64, order: Int, delivery: Delivery)] = []
    private var order = 0

    mutating func schedule(at time: Int64, _ delivery: Delivery) {
        order += 1
        items.append((time, order, delivery))
    }

    /// When the next delivery is due, if any is scheduled.
    var nextTime: Int64? { items.map(\.time).min() }

    /// The next delivery due by `now`, taken out; nil when none is.
    mutating func takeDue(by now: Int64) -> Delivery? {
        guard let index = items.indices.min(by: { (items[$0].time, items[$0].order) < (items[$1].time, items[$1].order) }),
              items[index].time <= now else { return nil }
        return items.remove(at: index).delivery
    }

    mutating func removeAll(where drop: (Delivery) -> Bool) {
        items.removeAll { drop($0.delivery) }
    }

    /// Every delivery still scheduled.
    var pending: [Delivery] { items.map(\.delivery) }
}
