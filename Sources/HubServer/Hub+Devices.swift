/// The device families this hub runs. Each device family adds itself here, in one line
/// (`Sources/ARCHITECTURE.md`, "Where a new device goes").
extension Hub {
    func makeDevices() -> [any HubDevice] {
        [ModemDevice(), EthernetDevice(), FramebufferDevice()]
    }
}
