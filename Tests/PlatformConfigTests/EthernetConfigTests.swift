import Foundation
import PlatformConfigLoader
import Testing

@testable import PlatformConfig

@Suite struct EthernetConfigTests {
    static let yaml = """
        platform: {name: eth}
        partitions:
          - name: a
            class: fair-share
            priority: 1
            memoryBytes: 16MiB
            secret: a-secret-a-secret
            devices: [{device: lan0, access: shared}]
        devices:
          ethernet:
            - name: lan0
              mtu: 9000
              macAgeingSeconds: 60
              ports:
                - {name: a, partition: a, impairment: umts}
                - {name: q, stream: "tcp:127.0.0.1:0", vlan: 10}
                - {name: v, vde: "unix:/tmp/hub-vde.sock", isolated: true, queueFrames: 64}
                - {name: d, dgram: {local: "127.0.0.1:7420", remote: "127.0.0.1:7421"}}
                - {name: t, tap: hubtap0, trunk: {allowed: [10, 20], native: 1}}
                - {name: x, vxlan: {local: "0.0.0.0:4789", vni: 42, remotes: ["10.0.0.2:4789", "[::1]:4789"]}}
                - {name: probe}
        """

    @Test func everyPortKindDecodesAndRoundTrips() throws {
        let config = try PlatformConfiguration.load(yaml: Self.yaml)
        let ports = config.devices.ethernet[0].ports
        #expect(ports.map(\.kind) == ["guest", "stream", "vde", "dgram", "tap", "vxlan", "test"])
        #expect(ports[0].impairment == "umts")
        #expect(ports[1].attachment == .stream(.tcp(host: "127.0.0.1", port: 0)))
        #expect(ports[1].vlan == .access(10))
        #expect(ports[2].isolated && ports[2].queueFrames == 64)
        #expect(
            ports[3].attachment
                == .dgram(
                    local: UDPAddress(host: "127.0.0.1", port: 7420), remote: UDPAddress(host: "127.0.0.1", port: 7421))
        )
        #expect(ports[4].vlan == .trunk(allowed: [10, 20], native: 1))
        #expect(
            ports[5].attachment
                == .vxlan(
                    local: UDPAddress(host: "0.0.0.0", port: 4789), vni: 42,
                    remotes: [UDPAddress(host: "10.0.0.2", port: 4789), UDPAddress(host: "::1", port: 4789)]))
        #expect(config.devices.ethernet[0].macAgeingSeconds == 60)
        #expect(try PlatformConfiguration.load(yaml: config.encodeYAML()) == config)
    }

    /// VLAN ids past 16 bits are reported as written, not as the 65535 they were once clamped to.
    @Test func vlanIdsOutOfSixteenBitsAreReportedAsWritten() {
        let yaml = Self.yaml.replacingOccurrences(of: "vlan: 10", with: "vlan: 70000")
            .replacingOccurrences(of: "allowed: [10, 20], native: 1", with: "allowed: [10, -3], native: 99999999999")
        let found = loadIssues(yaml).map(\.description)
        #expect(found.contains { $0.hasPrefix("devices.ethernet[0].ports[1].vlan: 70000 is outside 1...4094") })
        #expect(
            found.contains { $0.hasPrefix("devices.ethernet[0].ports[4].trunk.allowed[1]: -3 is outside 1...4094") })
        #expect(found.contains { $0.hasPrefix("devices.ethernet[0].ports[4].trunk.native: 99999999999 is outside") })
        #expect(!found.contains { $0.contains("65535") || $0.contains(": 0 is outside") }, "\(found)")
    }

    @Test func badPortsNameTheirEntry() {
        let yaml = Self.yaml.replacingOccurrences(of: "vlan: 10", with: "vlan: 4095")
            .replacingOccurrences(of: "tap: hubtap0", with: "tap: a-name-longer-than-15")
            .replacingOccurrences(of: "vni: 42", with: "vni: 16777216")
            .replacingOccurrences(of: "impairment: umts", with: "impairment: 5g")
            .replacingOccurrences(of: "{name: probe}", with: "{name: probe, tap: x, stream: \"tcp:127.0.0.1:1\"}")
        let paths = loadIssues(yaml).map(\.path)
        #expect(paths.contains("devices.ethernet[0].ports[1].vlan"))
        #expect(paths.contains("devices.ethernet[0].ports[4].tap"))
        #expect(paths.contains("devices.ethernet[0].ports[5].vxlan.vni"))
        #expect(paths.contains("devices.ethernet[0].ports[0].impairment"))
        #expect(paths.contains { $0.hasPrefix("devices.ethernet[0].ports[6].") })
    }

    /// A tap's fixed MAC and persistence, and a port's byte bound, decode and round-trip; each is checked.
    @Test func tapMACPersistenceAndQueueBytes() throws {
        let good = Self.yaml.replacingOccurrences(
            of: "{name: t, tap: hubtap0,", with: "{name: t, tap: hubtap0, mac: \"02:00:5e:00:00:01\", persistent: true,"
        ).replacingOccurrences(of: "queueFrames: 64}", with: "queueFrames: 64, queueBytes: 256KiB}")
        let config = try PlatformConfiguration.load(yaml: good)
        let ports = config.devices.ethernet[0].ports
        #expect(ports[4].mac == "02:00:5e:00:00:01" && ports[4].persistent)
        #expect(ports[2].queueBytes == 256 << 10)
        #expect(try PlatformConfiguration.load(yaml: config.encodeYAML()) == config)
        let bad = Self.yaml.replacingOccurrences(
            of: "{name: t, tap: hubtap0,", with: "{name: t, tap: hubtap0, mac: \"03:00:5e:00:00:01\","
        ).replacingOccurrences(of: "queueFrames: 64}", with: "queueFrames: 64, queueBytes: 100, persistent: true}")
            .replacingOccurrences(of: "vlan: 10}", with: "vlan: 10, mac: \"02:00:00:00:00:01\"}")
        let paths = loadIssues(bad).map(\.path)
        #expect(paths.contains("devices.ethernet[0].ports[4].mac"))  // a group address
        #expect(paths.contains("devices.ethernet[0].ports[2].queueBytes"))
        #expect(paths.contains("devices.ethernet[0].ports[2].persistent"))  // not a tap
        #expect(paths.contains("devices.ethernet[0].ports[1].mac"))  // not a tap
        #expect(!EthernetPortConfig.isValidUnicastMAC("02:00:00:00:00"))
        #expect(!EthernetPortConfig.isValidUnicastMAC("02:00:00:00:00:0g"))
        #expect(EthernetPortConfig.isValidUnicastMAC("02:AB:cd:00:00:01"))
    }
}
