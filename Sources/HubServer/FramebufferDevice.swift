import ControlWire
import DeviceKit
import EventLoop
import Framebuffer
import GuestWire
import Hypervisor
import JSON
import PlatformConfig

/// The framebuffer family: one `FramebufferScreen` per configured framebuffer (`Protocols/framebuffer.md`).
final class FramebufferDevice: HubServerDevice {
    let familyName = "framebuffer"
    private(set) var screens: [FramebufferScreen] = []

    func start(hub: Hub) throws(HubStartError) {
        for (index, config) in hub.configuration.devices.framebuffers.enumerated() {
            let screen = FramebufferScreen(config: config, hub: hub)
            screens.append(screen)
            try screen.start(entry: "devices.framebuffers[\(index)]")
        }
        hub.registerFramebufferMethods(device: self)
    }

    func stop() {
        for screen in screens { screen.stop() }
    }

    var channelDeviceNames: [String] { screens.map(\.name) }

    func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: GuestChannelEndpoint) -> Result<
        GuestChannel, GuestChannelRefusal
    > {
        guard let screen = screen(named: device) else {
            return .failure(GuestChannelRefusal(code: .noSuchDevice, reason: "no framebuffer \(device)"))
        }
        return screen.openChannel(endpoint: endpoint)
    }

    var limitsJSON: JSON {
        .object(
            JSONObject(
                screens.map { screen in
                    (
                        screen.name,
                        [
                            "maxViewers": .int(Int64(screen.config.maxViewers)),
                            "maxCutTextBytes": .int(Int64(screen.config.maxCutTextBytes)),
                            "maxChannelData": .int(Int64(FramebufferScreen.maxChannelData)),
                            "refreshHz": .int(Int64(screen.config.refreshHz)),
                        ] as JSON
                    )
                }))
    }

    func partitionDetached(_ partition: String) {
        for screen in screens { screen.partitionDetached(partition) }
    }

    func screen(named name: String) -> FramebufferScreen? { screens.first { $0.name == name } }
}
