import ControlWire
import DeviceKit
import EventLoop
import Framebuffer
import GuestWire
import JSON
import PlatformConfig

/// The framebuffer family: one `FramebufferScreen` per configured framebuffer (`Protocols/framebuffer.md`), its
/// control methods (`FramebufferMethods.swift`) and the family's `fb.wait`s (`FramebufferWaits.swift`).
package final class FramebufferDevice: HubDevice {
    package let familyName = "framebuffer"
    package private(set) var screens: [FramebufferScreen] = []
    /// Set by `start`; the hub outlives its devices.
    private(set) weak var host: (any DeviceHost)?
    /// The family's pending `fb.wait`s, under the kit's one limit (`controlMaxWaiters`); set by `start`.
    private(set) var waits: DeferredWaits<FramebufferWait>!

    package init() {}

    package func start(host: any DeviceHost) throws(HubStartError) {
        self.host = host
        let waits: DeferredWaits<FramebufferWait> = host.makeWaits()
        self.waits = waits
        for (index, config) in host.configuration.devices.framebuffers.enumerated() {
            let screen = FramebufferScreen(config: config, host: host, waits: waits)
            screens.append(screen)
            try screen.start(entry: "devices.framebuffers[\(index)]")
        }
        host.register(methods)
    }

    package func stop() {
        for screen in screens { screen.stop() }
        waits?.finishAll(.error(.unavailable("the hub is shutting down")))
        waits?.close()
    }

    package var channelDeviceNames: [String] { screens.map(\.name) }

    package func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: any GuestChannelEndpoint)
        -> Result<any GuestChannel, GuestChannelRefusal>
    {
        guard let screen = screen(named: device) else {
            return .failure(GuestChannelRefusal(code: .noSuchDevice, reason: "no framebuffer \(device)"))
        }
        return screen.openChannel(endpoint: endpoint)
    }

    package var limitsJSON: JSON {
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

    package func partitionDetached(_ partition: String) {
        for screen in screens { screen.partitionDetached(partition) }
    }

    package func screen(named name: String) -> FramebufferScreen? { screens.first { $0.name == name } }
}
