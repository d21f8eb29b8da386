import Glibc
import HubSystem
import Testing

@testable import EthernetServer

/// A tap that cannot be opened is a start-up error naming the configuration entry and the step that failed;
/// the wording is what operators (and `Deploy/config-reference.md`, devices.ethernet) rely on.
@Suite struct TapInterfaceErrorTests {
    private func wording(_ operation: String, _ code: Int32) -> String {
        TapInterface.describe(SystemError(operation, code: code), interface: "tap7", entry: "lan0.ports[1]")
    }

    @Test func aMissingTunDeviceSaysToLoadTheModule() {
        for code in [ENOENT, ENODEV, ENXIO] {
            #expect(
                wording("open /dev/net/tun", code)
                    == "lan0.ports[1]: cannot create tap 'tap7': /dev/net/tun does not exist (load the tun module, or give a container --device /dev/net/tun)"
            )
        }
    }

    @Test func noPermissionNamesTheCapability() {
        for code in [EACCES, EPERM] {
            #expect(
                wording("open /dev/net/tun", code)
                    == "lan0.ports[1]: cannot create tap 'tap7': no permission to open /dev/net/tun (run as root or with CAP_NET_ADMIN)"
            )
            #expect(
                wording("TUNSETIFF", code)
                    == "lan0.ports[1]: cannot create tap 'tap7': TUNSETIFF: no permission (the hub needs CAP_NET_ADMIN to create a tap interface)"
            )
        }
    }

    @Test func otherFailuresNameTheStepAndTheSystemsWording() {
        #expect(wording("open /dev/net/tun", EMFILE) == "lan0.ports[1]: cannot open /dev/net/tun: \(describe(EMFILE))")
        #expect(
            wording("TUNSETIFF", EBUSY)
                == "lan0.ports[1]: cannot create tap 'tap7': TUNSETIFF: the interface exists and is not a free tap (another process holds it?)"
        )
        #expect(
            wording("TUNSETIFF", EINVAL) == "lan0.ports[1]: cannot create tap 'tap7': TUNSETIFF: \(describe(EINVAL))")
        #expect(
            wording("TUNSETPERSIST", EPERM) == "lan0.ports[1].persistent: TUNSETPERSIST on 'tap7': \(describe(EPERM))")
    }

    private func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
}
