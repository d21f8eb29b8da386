import EthernetWire
import Glibc
import GuestWire
import HubGuest
import JSON
import Testing

/// Bounded reading of a guest's Ethernet channel (`Protocols/ethernet.md` §4.8): a real-time partition's input is
/// read whole, so a burst of frames on its channel used to be switched in the pass it arrived in, however long.
@Suite struct EthernetGuestChannelSliceTests {
    /// A burst on rtos's lan0 channel: every frame reaches the switch (nothing lost), the control API answers
    /// meanwhile, and once a pass's slice is used the session stops reading until the next pass (`passesAtBudget`).
    @Test func aBurstOnARealTimeGuestsChannelIsSlicedAndNothingIsLost() throws {
        // A slice well below the burst, so that the budget is reached whatever the default.
        let hub = try HubHarness { $0.hub.limits.ethernetReadFramesPerPass = 32 }
        let rtos = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "rtos", secret: "rtos-dev-secret")
        _ = try rtos.openChannel(3, device: "lan0")
        let control = try LineClient(unixPath: hub.controlUnix)
        _ = try control.readJSON()
        let total = 3000
        let frame =
            [UInt8](repeating: 0xFF, count: 6) + [2, 0, 0, 0, 0, 0x42, 0x88, 0xB5] + [UInt8](repeating: 0, count: 46)
        for _ in 0..<total { try rtos.sendFrame(GuestFrame(.channelData(frame[...]), channel: 3)) }
        #expect(try control.call("hub.info")["result"] != nil)
        var port: JSON?
        for attempt in 0..<500 {
            let ports = try control.call("eth.ports", ["segment": "lan0"], id: Int64(attempt + 2))
            port = ports["result"]?["ports"]?.arrayValue?.first { $0["name"] == "rtos" }
            if port?["counters"]?["rxFrames"]?.intValue == total { break }
            usleep(10_000)
        }
        #expect(port?["counters"]?["rxFrames"]?.intValue == total)
        let slice = port?["readSlice"]
        #expect(slice?["framesPerPass"]?.intValue == 32)
        #expect((slice?["passesAtBudget"]?.intValue ?? 0) >= 1)
        rtos.close()
        #expect(hub.stop() == 0)
    }
}
