import ControlWire
import DeviceKit
import EventLoop
import Framebuffer
import JSON
import RFBWire

/// `fb.*`: look at the shared screen and drive its input (`Protocols/control.md` §5.9).
extension FramebufferDevice {
    /// The family's control methods, registered by `start(host:)`: each entry names its handler below.
    package var methods: [ControlMethod] {
        [
            ControlMethod("fb.info", summary: "A framebuffer's size, RFB endpoints, viewers and counters") {
                [unowned self] call throws(ControlError) in try self.fbInfo(call)
            },
            ControlMethod("fb.layers", summary: "The layout: regions, owners, z-order, focus and preemption") {
                [unowned self] call throws(ControlError) in try self.fbLayers(call)
            },
            ControlMethod("fb.screenshot", summary: "The composed screen as a PNG (base64)") {
                [unowned self] call throws(ControlError) in try self.fbScreenshot(call)
            },
            ControlMethod("fb.pixel", summary: "One screen pixel as #rrggbb") {
                [unowned self] call throws(ControlError) in try self.fbPixel(call)
            },
            ControlMethod("fb.region", summary: "A screen rectangle as packed RGB bytes (base64)") {
                [unowned self] call throws(ControlError) in try self.fbRegion(call)
            },
            ControlMethod("fb.wait", summary: Self.waitSummary) {
                [unowned self] call throws(ControlError) in try self.fbWait(call)
            },
            ControlMethod("fb.key", summary: "Press (or hold, or let go of) a keypad key for the focused partition") {
                [unowned self] call throws(ControlError) in try self.fbKey(call)
            },
            ControlMethod("fb.touch", summary: "Touch the screen for the focused partition") {
                [unowned self] call throws(ControlError) in try self.fbTouch(call)
            },
            ControlMethod("fb.focus", summary: "Who has input focus, and who preempts the screen") {
                [unowned self] call throws(ControlError) in try self.fbFocus(call)
            },
            ControlMethod("fb.setFocus", summary: "Give input focus to a partition that owns a region") {
                [unowned self] call throws(ControlError) in try self.fbSetFocus(call)
            },
        ]
    }

    static let waitSummary =
        "Answer when a screen region matches a colour or an image (with tolerance), or changes"

    // MARK: Parameters

    /// The framebuffer named by `device`, or the first one.
    func screen(_ params: ControlParams) throws(ControlError) -> FramebufferScreen {
        if let name = try params.optionalString("device") {
            guard let screen = screen(named: name) else { throw ControlError.notFound("framebuffer", name: name) }
            return screen
        }
        guard let first = screens.first else { throw ControlError.notFound("framebuffer", name: "(any)") }
        return first
    }

    /// `x`, `y`, `width`, `height` inside the screen (each range-checked before use); the whole screen when
    /// `defaultWhole` and none is given.
    func rect(_ params: ControlParams, _ screen: FramebufferScreen, defaultWhole: Bool) throws(ControlError)
        -> ScreenRect
    {
        let width = Int64(screen.config.width)
        let height = Int64(screen.config.height)
        if defaultWhole && !params.contains("x") && !params.contains("width") { return screen.compositor.bounds }
        let x = try params.requireInt("x", in: 0...(width - 1))
        let y = try params.requireInt("y", in: 0...(height - 1))
        let w = try params.requireInt("width", in: 1...(width - x))
        let h = try params.requireInt("height", in: 1...(height - y))
        return ScreenRect(x: Int(x), y: Int(y), width: Int(w), height: Int(h))
    }

    // MARK: Looking at the screen

    /// `fb.info`.
    func fbInfo(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["device"])
        return .result(try screen(params).infoJSON)
    }

    /// `fb.layers`.
    func fbLayers(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["device"])
        return .result(try screen(params).layersJSON)
    }

    /// `fb.screenshot`.
    func fbScreenshot(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["device"])
        let screen = try screen(params)
        // Encoding reads every pixel: charged as the pixels read (as `fb.region` is), not as the small answer.
        call.workBytes += screen.config.width * screen.config.height * 4
        let png = PNGEncoder.encode(
            pixels: screen.compositor.screen, width: screen.config.width, height: screen.config.height)
        return .result([
            "width": .int(Int64(screen.config.width)), "height": .int(Int64(screen.config.height)),
            "format": "png", "png": .string(Base64.encode(png)),
        ])
    }

    /// `fb.pixel`.
    func fbPixel(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["device", "x", "y"])
        let screen = try screen(params)
        let x = try params.requireInt("x", in: 0...Int64(screen.config.width - 1))
        let y = try params.requireInt("y", in: 0...Int64(screen.config.height - 1))
        return .result([
            "x": .int(x), "y": .int(y),
            "rgb": .string(Self.hexColour(screen.compositor.pixel(x: Int(x), y: Int(y)))),
        ])
    }

    /// `fb.region`.
    func fbRegion(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["device", "x", "y", "width", "height"])
        let screen = try screen(params)
        let area = try rect(params, screen, defaultWhole: true)
        var rgb: [UInt8] = []
        rgb.reserveCapacity(area.area * 3)
        // Three appends per pixel, no temporary arrays: a whole screen is 384,000 pixels in one request.
        for pixel in screen.compositor.read(area) {
            rgb.append(UInt8(truncatingIfNeeded: pixel >> 16))
            rgb.append(UInt8(truncatingIfNeeded: pixel >> 8))
            rgb.append(UInt8(truncatingIfNeeded: pixel))
        }
        return .result([
            "x": .int(Int64(area.x)), "y": .int(Int64(area.y)), "width": .int(Int64(area.width)),
            "height": .int(Int64(area.height)), "rgb": .string(Base64.encode(rgb)),
        ])
    }

    // MARK: fb.wait

    /// `fb.wait`.
    func fbWait(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(
            call.params,
            allowed: [
                "device", "x", "y", "width", "height", "colour", "rgb", "png", "changed", "tolerance", "timeoutMs",
            ])
        let screen = try screen(params)
        let area = try rect(params, screen, defaultWhole: true)
        let tolerance = Int(try params.optionalInt("tolerance", in: 0...255) ?? 0)
        let maxWaitMs = Int64(host?.limits.controlMaxWaitMs ?? 0)
        let timeout = try params.requireInt("timeoutMs", in: 0...maxWaitMs)
        // Reading the region (and decoding an image) is work the request's few bytes do not show: charged to the
        // pass's control budget, so a burst of waits is registered over several passes.
        call.workBytes += area.area * 4
        let match = try waitMatch(params, screen, area, tolerance: tolerance)
        let now = MonotonicClock.nanoseconds()
        let wait = FramebufferWait(screen: screen.name, rect: area, match: match, started: now)
        if case .changed = match {
        } else if wait.isSatisfied(by: screen.compositor.read(area)) {
            return .result(wait.result(now: now))
        }
        return try waits.register(call, until: wait, timeoutMs: timeout)
    }

    /// Exactly one of `colour`, `rgb`, `png`, `changed`, as the condition it names.
    private func waitMatch(_ params: ControlParams, _ screen: FramebufferScreen, _ area: ScreenRect, tolerance: Int)
        throws(ControlError) -> FramebufferWait.Match
    {
        let given = ["colour", "rgb", "png", "changed"].filter { params.contains($0) }
        guard given.count == 1 else {
            throw ControlError.invalidParams(
                param: "colour", expected: "exactly one of colour, rgb, png, changed", detail: "got \(given)")
        }
        if let text = try params.optionalString("colour") {
            guard let colour = Self.parseColour(text) else {
                throw ControlError.invalidParams(param: "colour", expected: "#rrggbb")
            }
            return .colour(colour, tolerance: tolerance)
        }
        if params.contains("rgb") || params.contains("png") {
            // Checked before anything is decoded: every pending wait's image together stays within the limit.
            let limit = host?.limits.fbWaitImageBytes ?? Int.max
            let held = waits.conditions.reduce(0) { $0 + $1.imageBytes }
            guard held + area.area * 4 <= limit else {
                throw ControlError.limitExceeded("fbWaitImageBytes", value: Int64(limit), reason: "too_many_waits")
            }
        }
        if let rgb = try params.optionalBase64("rgb", maxLength: area.area * 3) {
            return .image(try Self.pixels(rgb: rgb, area), tolerance: tolerance)
        }
        if let png = try params.optionalBase64("png", maxLength: Self.maxWaitPNGBytes(area)) {
            return .image(try Self.pixels(png: png, area), tolerance: tolerance)
        }
        guard try params.requireBool("changed") else {
            throw ControlError.invalidParams(param: "changed", expected: "true")
        }
        return .changed(fromHash: FramebufferWait.hash(screen.compositor.read(area)))
    }

    /// `rgb`: 3 bytes per pixel of `area`, row-major.
    static func pixels(rgb: [UInt8], _ area: ScreenRect) throws(ControlError) -> [UInt32] {
        guard rgb.count == area.area * 3 else {
            throw ControlError.invalidParams(
                param: "rgb", expected: "\(area.area * 3) bytes (3 per pixel)",
                detail: "is \(rgb.count) bytes, not \(area.area * 3) (3 per pixel)")
        }
        var pixels: [UInt32] = []
        pixels.reserveCapacity(area.area)
        for index in 0..<area.area {
            let red = UInt32(rgb[index * 3]) << 16
            let green = UInt32(rgb[index * 3 + 1]) << 8
            pixels.append(red | green | UInt32(rgb[index * 3 + 2]))
        }
        return pixels
    }

    /// `png`: an 8-bit PNG exactly the size of `area` (decoded with at most its pixels).
    static func pixels(png: [UInt8], _ area: ScreenRect) throws(ControlError) -> [UInt32] {
        let image: PNGDecoder.Image
        do throws(PNGDecoder.Failure) {
            image = try PNGDecoder.decode(png, maxPixels: area.area)
        } catch {
            throw ControlError.invalidParams(param: "png", expected: "an 8-bit PNG", detail: error.description)
        }
        guard image.width == area.width, image.height == area.height else {
            throw ControlError.invalidParams(
                param: "png", expected: "a \(area.width)x\(area.height) image",
                detail: "got \(image.width)x\(image.height)")
        }
        return image.pixels
    }

    // MARK: Input and focus

    /// `fb.key`.
    func fbKey(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["device", "key", "keysym", "action"])
        let screen = try screen(params)
        let key: KeypadKey
        var keysym: UInt32 = 0
        if let name = try params.optionalString("key") {
            guard let named = KeypadKey(name: name) else {
                throw ControlError.invalidParams(
                    param: "key", expected: KeypadKey.allCases.map(\.name).joined(separator: " "))
            }
            key = named
        } else {
            let value = try params.requireInt("keysym", in: 0...0x1fff_ffff)
            keysym = UInt32(value)
            guard let mapped = Keypad.key(forKeysym: keysym) else {
                throw ControlError.invalidParams(
                    param: "keysym", expected: "a keysym of the keypad table", detail: "0x\(String(value, radix: 16))")
            }
            key = mapped
        }
        let action = try params.optionalChoice("action", of: ["press", "down", "up"]) ?? "press"
        var delivered: String?
        if action != "up" { delivered = screen.deliverKey(key, down: true, keysym: keysym) }
        if action != "down" { delivered = screen.deliverKey(key, down: false, keysym: keysym) }
        return .result(["key": .string(key.name), "partition": delivered.map(JSON.string) ?? .null])
    }

    /// `fb.touch`.
    func fbTouch(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["device", "x", "y", "action"])
        let screen = try screen(params)
        let x = Int(try params.requireInt("x", in: 0...Int64(screen.config.width - 1)))
        let y = Int(try params.requireInt("y", in: 0...Int64(screen.config.height - 1)))
        let action = try params.optionalChoice("action", of: ["tap", "down", "move", "up"]) ?? "tap"
        let delivered: String?
        switch action {
        case "down": delivered = screen.deliverTouch(.down, x: x, y: y)
        case "move": delivered = screen.deliverTouch(.move, x: x, y: y)
        case "up": delivered = screen.deliverTouch(.up, x: x, y: y)
        default:
            _ = screen.deliverTouch(.down, x: x, y: y)
            delivered = screen.deliverTouch(.up, x: x, y: y)
        }
        return .result(["partition": delivered.map(JSON.string) ?? .null])
    }

    /// `fb.focus`.
    func fbFocus(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["device"])
        return .result(try screen(params).focusJSON)
    }

    /// `fb.setFocus`.
    func fbSetFocus(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["device", "partition"])
        let screen = try screen(params)
        let partition = try params.requireString("partition")
        let changes: [OwnershipChange]
        do throws(FramebufferRefusal) {
            changes = try screen.compositor.setFocus(partition)
        } catch {
            throw ControlError.conflict(error.reason)
        }
        screen.apply(changes)
        return .result(screen.focusJSON)
    }

    // MARK: Helpers

    /// A PNG of the wait's rectangle can hardly exceed its raw size (RGBA plus filter bytes) plus
    /// deflate's worst-case overhead and some chunks.
    static func maxWaitPNGBytes(_ area: ScreenRect) -> Int { area.area * 4 + area.height + area.area / 100 + 65536 }

    static func hexColour(_ pixel: UInt32) -> String {
        let digits = String(pixel & 0xff_ffff, radix: 16)
        return "#" + String(repeating: "0", count: 6 - digits.count) + digits
    }

    static func parseColour(_ text: String) -> UInt32? {
        guard text.hasPrefix("#"), text.count == 7, let value = UInt32(text.dropFirst(), radix: 16) else { return nil }
        return value
    }
}

extension FramebufferScreen {
    var focusJSON: JSON {
        [
            "focus": compositor.focus.map(JSON.string) ?? .null,
            "preemptedBy": compositor.preemptor.map(JSON.string) ?? .null,
        ]
    }

    var layersJSON: JSON {
        [
            "device": .string(name),
            "width": .int(Int64(config.width)), "height": .int(Int64(config.height)),
            "regions": .array(
                compositor.regions.reversed().map { region in
                    [
                        "name": .string(region.name), "owner": .string(region.owner), "x": .int(Int64(region.rect.x)),
                        "y": .int(Int64(region.rect.y)), "width": .int(Int64(region.rect.width)),
                        "height": .int(Int64(region.rect.height)), "z": .int(Int64(region.z)),
                        "drawing": .bool(channels[region.owner] != nil),
                    ]
                }),
            "focus": compositor.focus.map(JSON.string) ?? .null,
            "preemptedBy": compositor.preemptor.map(JSON.string) ?? .null,
            "preemptors": .array(compositor.preemptors.sorted().map(JSON.string)),
        ]
    }

    var infoJSON: JSON {
        [
            "device": .string(name),
            "width": .int(Int64(config.width)), "height": .int(Int64(config.height)),
            "rfbEndpoints": .array(boundEndpoints.map { .string($0.description) }),
            "security": .string(config.password == nil ? "none" : "vnc"),
            "viewers": .array(
                viewers.values.sorted { $0.id < $1.id }.map { viewer in
                    [
                        "viewer": .uint(viewer.id), "endpoint": .string(viewer.remote),
                        "encoding": .string(viewer.pixelEncodingName), "updates": .uint(viewer.updatesSent),
                    ]
                }),
            "counters": counters.json,
        ]
    }
}
