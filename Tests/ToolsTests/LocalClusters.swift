import Testing

/// The suites that run whole dev clusters (nine processes each, scrypt at full cost): one at a
/// time, so that on two cores they do not starve each other, or the in-process suites, into
/// timeouts.
@Suite(.serialized) enum LocalClusters {}
