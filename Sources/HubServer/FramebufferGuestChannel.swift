import Framebuffer
import GuestWire
import RFBWire

/// A partition's drawing channel to a framebuffer (`Protocols/framebuffer.md` §3).
final class FramebufferGuestChannel: GuestChannel {
    unowned let screen: FramebufferScreen
    let endpoint: GuestChannelEndpoint
    var partition: String { endpoint.partition }

    init(screen: FramebufferScreen, endpoint: GuestChannelEndpoint) {
        self.screen = screen
        self.endpoint = endpoint
    }

    var maxData: UInt32 { UInt32(FramebufferScreen.maxChannelData) }

    /// u16 width, u16 height, u8 focused, u8 may preempt, u8 region count, then per region u16 x, y, w, h.
    var openedOptions: [UInt8] {
        let compositor = screen.compositor
        let regions = compositor.regions(of: partition).prefix(255)
        var out: [UInt8] = []
        for value in [compositor.width, compositor.height] { out += [UInt8(value >> 8), UInt8(value & 0xff)] }
        out.append(compositor.focus == partition ? 1 : 0)
        out.append(compositor.preemptors.contains(partition) ? 1 : 0)
        out.append(UInt8(regions.count))
        for region in regions {
            for value in [region.rect.x, region.rect.y, region.rect.width, region.rect.height] {
                out += [UInt8(value >> 8), UInt8(value & 0xff)]
            }
        }
        return out
    }

    func send(_ event: FramebufferHubEvent) {
        endpoint.send(event.encode())
    }

    func received(_ data: ArraySlice<UInt8>) {
        screen.counters.commands += 1
        let command: FramebufferGuestCommand
        do {
            command = try FramebufferGuestCommand.decode(data)
        } catch {
            return refuse(code: GuestErrorCode.malformedFrame.rawValue, command: data.first ?? 0, error.description)
        }
        do {
            switch command {
            case .put(let rect, let compressed, let payload):
                var pixels = payload
                if compressed {
                    // The rectangle is checked first, so the inflate limit is bounded by the surface size.
                    guard screen.compositor.bounds.contains(rect), !rect.isEmpty else {
                        return refuse(
                            code: 15, command: FramebufferGuestCommand.Tag.put,
                            "rectangle \(rect.width)x\(rect.height)+\(rect.x)+\(rect.y) is outside the surface")
                    }
                    guard let inflated = Zlib.inflate(payload, limit: rect.area * 4), inflated.count == rect.area * 4
                    else {
                        return refuse(
                            code: GuestErrorCode.malformedFrame.rawValue, command: FramebufferGuestCommand.Tag.put,
                            "zlib data does not inflate to exactly \(rect.area * 4) bytes")
                    }
                    pixels = inflated[...]
                }
                try screen.compositor.draw(.put(rect, pixels: pixels), by: partition)
            case .fill(let rect, let colour):
                try screen.compositor.draw(.fill(rect, colour: colour), by: partition)
            case .copy(let sourceX, let sourceY, let destination):
                try screen.compositor.draw(
                    .copy(sourceX: sourceX, sourceY: sourceY, destination: destination), by: partition)
            case .frame(let number):
                screen.frameFinished(by: partition, number: number)
                return
            case .preempt:
                screen.apply(try screen.compositor.preempt(by: partition))
                return
            case .release:
                screen.apply(try screen.compositor.release(by: partition))
                return
            }
        } catch {
            return refuse(code: error.code, command: data.first ?? 0, error.reason)
        }
        screen.schedulePump()
    }

    private func refuse(code: UInt16, command: UInt8, _ reason: String) {
        screen.counters.commandErrors += 1
        send(.error(code: code, command: command, reason: reason))
    }

    func closed(reason: String) {
        screen.channelClosed(self)
    }
}
