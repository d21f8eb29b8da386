import PlatformConfig
import PlatformConfigLoader
import Testing

/// `Protocols/threat-model.md` §2: whatever is reachable from elsewhere authenticates. Protocols that
/// cannot (raw AT, QEMU and VDE stream framings) stay on loopback; VXLAN and dgram ports off loopback hear only
/// their configured remotes.
@Suite struct ExposureTests {
    private func issues(devices: String) -> [String] {
        let yaml = """
            platform: {name: exposure}
            partitions:
              - {name: rtos, class: real-time, priority: 0, memoryBytes: 64MiB, secret: rtos-secret,
                 devices: [{device: modem0, access: dedicated}, {device: lan0, access: shared}]}
            devices:
            \(devices)
            """
        do {
            _ = try PlatformConfiguration.load(yaml: yaml)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test func rawATListenersStayOnLoopback() {
        let found = issues(
            devices: """
                  modems: [{name: modem0, owner: rtos, listen: ["tcp:0.0.0.0:5000", "tcp:127.0.0.1:5001"]}]
                  ethernet: [{name: lan0, ports: [{name: a, partition: rtos}]}]
                """)
        #expect(found.contains { $0.hasPrefix("devices.modems[0].listen[0]:") && $0.contains("no authentication") })
        #expect(!found.contains { $0.hasPrefix("devices.modems[0].listen[1]") })
    }

    @Test func streamPortsStayOnLoopbackAndUDPPortsHearOnlyTheirRemotes() {
        let found = issues(
            devices: """
                  modems: [{name: modem0, owner: rtos}]
                  ethernet:
                    - name: lan0
                      ports:
                        - {name: a, partition: rtos}
                        - {name: qemu, stream: "tcp:0.0.0.0:9000"}
                        - {name: local, stream: "unix:/tmp/x.sock"}
                        - {name: wide, vxlan: {local: "10.1.2.3:4789", vni: 42}}
                        - {name: wideok, vxlan: {local: "10.1.2.3:4790", vni: 43, remotes: ["10.1.2.4:4789"]}}
                        - {name: udp, dgram: {local: "0.0.0.0:7000"}}
                """)
        #expect(found.contains { $0.hasPrefix("devices.ethernet[0].ports[1].stream:") })
        #expect(!found.contains { $0.hasPrefix("devices.ethernet[0].ports[2]") })
        #expect(found.contains { $0.hasPrefix("devices.ethernet[0].ports[3].vxlan.remotes:") })
        #expect(!found.contains { $0.hasPrefix("devices.ethernet[0].ports[4]") })
        #expect(found.contains { $0.hasPrefix("devices.ethernet[0].ports[5].dgram.remote:") })
    }
}
