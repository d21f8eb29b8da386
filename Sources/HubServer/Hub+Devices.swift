/// The device families this hub runs. Each device issue adds its family here, in one line.
extension Hub {
    func makeDevices() -> [any HubDevice] {
        [ModemDevice(), EthernetDevice(), FramebufferDevice()]
    }
}
