import Nodes
import Testing

/// `spike nexus`' settings from SPIKE's environment variables: defaults, and every bad value
/// refused with the variable's name (SPIKE falls back to defaults silently).
@Suite struct NexusConfigurationTests {
    static let base = [
        "SPIKE_NEXUS_KEEPER_PEERS": "https://127.0.0.1:8443,https://127.0.0.1:8543,https://127.0.0.1:8643",
        "SPIKE_NEXUS_DATA_DIR": "/tmp/spike-configuration-test",
    ]

    func configuration(_ extra: [String: String]) throws(ConfigurationError) -> NexusConfiguration {
        try NexusConfiguration.fromEnvironment(Self.base.merging(extra) { $1 })
    }

    @Test func theServerLimitsDefaultAndCanBeSet() throws {
        let defaults = try configuration([:]).serverLimits
        #expect(defaults.handshakeTimeout == .seconds(10) && defaults.idleTimeout == .seconds(120) && defaults.maxConnections == 1024)
        #expect(defaults.maxBodySize == 1 << 20 && defaults.maxHandshakes == 128)
        let set = try configuration(["SPIKE_NEXUS_TLS_HANDSHAKE_TIMEOUT": "1500ms", "SPIKE_NEXUS_IDLE_TIMEOUT": "2m",
                                     "SPIKE_NEXUS_MAX_CONNECTIONS": "64"]).serverLimits
        #expect(set.handshakeTimeout == .milliseconds(1500) && set.idleTimeout == .seconds(120) && set.maxConnections == 64)
        #expect(set.maxHandshakes == 64)
        #expect(try configuration(["SPIKE_NEXUS_MAX_TLS_HANDSHAKES": "16"]).serverLimits.maxHandshakes == 16)
    }

    @Test func badLimitsAreRefusedByName() {
        let cases: [(String, String)] = [
            ("SPIKE_NEXUS_TLS_HANDSHAKE_TIMEOUT", "soon"), ("SPIKE_NEXUS_TLS_HANDSHAKE_TIMEOUT", "1ms"),
            ("SPIKE_NEXUS_IDLE_TIMEOUT", "-5s"), ("SPIKE_NEXUS_MAX_CONNECTIONS", "0"), ("SPIKE_NEXUS_MAX_CONNECTIONS", "many"),
            ("SPIKE_NEXUS_MAX_TLS_HANDSHAKES", "0"), ("SPIKE_NEXUS_MAX_TLS_HANDSHAKES", "2000"),
        ]
        for (name, value) in cases {
            #expect {
                try configuration([name: value])
            } throws: { error in
                guard case ConfigurationError.invalid(let variable, _) = error else { return false }
                return variable == name
            }
        }
    }
}
