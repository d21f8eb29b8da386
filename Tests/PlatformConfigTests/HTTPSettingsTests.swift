import PlatformConfig
import PlatformConfigLoader
import Testing

/// `hub.httpEndpoints` and `hub.httpToken` (`Deploy/config-reference.md`, hub; `Protocols/http.md` §5): off
/// loopback `/metrics` needs a token, as the control API does; the settings survive a YAML round trip.
@Suite struct HTTPSettingsTests {
    private func load(hub: String) -> Result<PlatformConfiguration, ConfigurationError> {
        let yaml = """
            platform: {name: http}
            hub:
            \(hub)
            partitions:
              - {name: rtos, class: real-time, priority: 0, memoryBytes: 64MiB, secret: rtos-secret}
            """
        do {
            return .success(try PlatformConfiguration.load(yaml: yaml))
        } catch {
            return .failure(error)
        }
    }

    private func issues(hub: String) -> [String] {
        guard case .failure(let error) = load(hub: hub) else { return [] }
        return error.issues.map(\.description)
    }

    @Test func offLoopbackNeedsAToken() {
        let found = issues(hub: "  httpEndpoints: [tcp:0.0.0.0:9100, tcp:127.0.0.1:9101, unix:/tmp/h.sock]")
        #expect(found.contains { $0.hasPrefix("hub.httpEndpoints[0]:") && $0.contains("hub.httpToken") })
        #expect(!found.contains { $0.hasPrefix("hub.httpEndpoints[1]") || $0.hasPrefix("hub.httpEndpoints[2]") })
        #expect(issues(hub: "  httpEndpoints: [tcp:0.0.0.0:9100]\n  httpToken: metrics-token-0123456789").isEmpty)
        #expect(issues(hub: "  httpEndpoints: [tcp:0.0.0.0:9100]\n  controlToken: control-token-0123456789").isEmpty)
        #expect(issues(hub: "  httpToken: short").contains { $0.hasPrefix("hub.httpToken:") })
    }

    @Test func anHTTPEndpointMayNotRepeatAnotherListener() {
        let found = issues(hub: "  controlEndpoints: [tcp:127.0.0.1:7400]\n  httpEndpoints: [tcp:127.0.0.1:7400]")
        #expect(found.contains { $0.hasPrefix("hub.httpEndpoints[0]") })
    }

    @Test func theSettingsSurviveARoundTrip() throws {
        let loaded = try load(hub: "  httpEndpoints: [tcp:127.0.0.1:9100]\n  httpToken: metrics-token-0123456789").get()
        #expect(loaded.hub.httpEndpoints == [.tcp(host: "127.0.0.1", port: 9100)])
        #expect(loaded.hub.httpToken == "metrics-token-0123456789")
        let again = try PlatformConfiguration.load(yaml: loaded.encodeYAML())
        #expect(again.hub == loaded.hub)
        #expect(PlatformConfiguration.reference.hub.httpEndpoints.isEmpty)
    }
}
