/// The samples of a Prometheus text exposition, by series (`name{labels}` as written) → value;
/// a line that is neither a comment nor `series value` fails the parse.
func prometheusSamples(_ text: String) -> [String: Double]? {
    var samples: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
        samples[String(line[..<space])] = value
    }
    return samples
}
