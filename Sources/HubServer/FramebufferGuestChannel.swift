import DeviceKit
import Framebuffer
import GuestWire
import RFBWire
import Zlib

/// A partition's drawing channel to a framebuffer (`Protocols/framebuffer.md` §3).
final class FramebufferGuestChannel: GuestChannel {
    unowned let screen: FramebufferScreen
    let endpoint: GuestChannelEndpoint
    var partition: String { endpoint.partition }
    /// The shared-memory surface, once the guest asked for one (SURFACE, §3.5).
    private(set) var sharedSurface: MemfdRegionBacking?
    /// Rows gathered from the shared surface for one damage rectangle, reused across FLUSHes.
    private var flushBuffer: [UInt8] = []

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
            return refuse(.malformedFrame, command: data.first ?? 0, error.description)
        }
        do {
            switch command {
            case .put(let rect, let compressed, let payload):
                var pixels = payload
                if compressed {
                    // The rectangle is checked first, so the inflate limit is bounded by the surface size.
                    guard screen.compositor.bounds.contains(rect), !rect.isEmpty else {
                        return refuse(
                            .outOfBounds, command: FramebufferGuestCommand.Tag.put,
                            "rectangle \(rect.width)x\(rect.height)+\(rect.x)+\(rect.y) is outside the surface")
                    }
                    guard let inflated = Zlib.inflate(payload, limit: rect.area * 4), inflated.count == rect.area * 4
                    else {
                        return refuse(
                            .malformedFrame, command: FramebufferGuestCommand.Tag.put,
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
            case .surface:
                return mapSurface()
            case .flush(let rects):
                try flush(rects)
            }
        } catch {
            return refuse(
                error.kind == .outOfBounds ? .outOfBounds : .notPermitted, command: data.first ?? 0, error.reason)
        }
        screen.schedulePump()
    }

    /// A refused command: a guest-protocol ERROR frame on this channel (`Protocols/guest.md` §5.5), whose
    /// reason starts with the command's name. The channel stays open.
    private func refuse(_ code: GuestErrorCode, command: UInt8, _ reason: String) {
        screen.counters.commandErrors += 1
        endpoint.sendError(code, reason: "\(Self.commandName(command)): \(reason)")
    }

    static func commandName(_ tag: UInt8) -> String {
        switch tag {
        case FramebufferGuestCommand.Tag.put: "PUT"
        case FramebufferGuestCommand.Tag.fill: "FILL"
        case FramebufferGuestCommand.Tag.copy: "COPY"
        case FramebufferGuestCommand.Tag.frame: "FRAME"
        case FramebufferGuestCommand.Tag.preempt: "PREEMPT"
        case FramebufferGuestCommand.Tag.release: "RELEASE"
        case FramebufferGuestCommand.Tag.surface: "SURFACE"
        case FramebufferGuestCommand.Tag.flush: "FLUSH"
        default: "command 0x\(String(tag, radix: 16))"
        }
    }

    // MARK: Shared-memory surface (§3.5)

    /// Creates the screen-sized memfd (once; a second SURFACE resends the same memory) and passes it.
    private func mapSurface() {
        let tag = FramebufferGuestCommand.Tag.surface
        guard endpoint.passesDescriptors else {
            return refuse(.notPermitted, command: tag, "shared surfaces need a Unix-socket session (use PUT)")
        }
        let compositor = screen.compositor
        let stride = compositor.width * 4
        if sharedSurface == nil {
            sharedSurface = MemfdRegionBacking(
                name: "\(screen.name):\(partition)", sizeBytes: UInt64(stride * compositor.height))
        }
        guard let surface = sharedSurface else {
            return refuse(.internalError, command: tag, "the kernel refused a memfd for the surface")
        }
        let descriptor = surface.duplicateDescriptor()
        guard descriptor >= 0 else {
            return refuse(.internalError, command: tag, "could not duplicate the surface descriptor")
        }
        screen.counters.surfacesMapped += 1
        endpoint.send(
            FramebufferHubEvent.surface(
                width: compositor.width, height: compositor.height, stride: UInt32(stride), size: surface.sizeBytes
            ).encode(), passingOwned: descriptor)
    }

    /// Composes each damage rectangle from the shared surface, checked like PUT. The rectangles are
    /// applied in order; the first refused one stops the rest (the guest gets one ERROR).
    private func flush(_ rects: [ScreenRect]) throws(FramebufferRefusal) {
        guard let surface = sharedSurface else {
            throw FramebufferRefusal(.notPermitted, "no shared surface: send SURFACE first")
        }
        let width = screen.compositor.width
        let bounds = screen.compositor.bounds
        for rect in rects {
            // Checked here too: the rows are read from the mapping before the compositor sees them.
            guard !rect.isEmpty, bounds.contains(rect) else {
                throw FramebufferRefusal(
                    .outOfBounds,
                    "rectangle \(rect.width)x\(rect.height)+\(rect.x)+\(rect.y) is outside the \(bounds.width)x\(bounds.height) surface"
                )
            }
            let rowBytes = rect.width * 4
            flushBuffer.removeAll(keepingCapacity: true)
            flushBuffer.reserveCapacity(rect.area * 4)
            surface.withUnsafeBytes { mapping in
                for y in rect.y..<rect.maxY {
                    let start = (y * width + rect.x) * 4
                    flushBuffer.append(contentsOf: mapping[start..<(start + rowBytes)])
                }
            }
            screen.counters.flushedRects += 1
            try screen.compositor.draw(.put(rect, pixels: flushBuffer[...]), by: partition)
        }
    }

    func closed(reason: String) {
        screen.channelClosed(self)
    }
}
