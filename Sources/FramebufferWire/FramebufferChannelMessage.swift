// The framebuffer guest channel (`Protocols/framebuffer.md` §3): one command per `CHANNEL_DATA` from the guest,
// one event per `CHANNEL_DATA` from the hub; integers big-endian. Pure: bytes in, values out, no I/O. The test
// vectors are in `Protocols/vectors/framebuffer/channel-*.hex` and `bad-channel-*.hex`.

/// A rectangle as the channel carries it: u16 x, y, width, height (`Protocols/framebuffer.md` §3.1). The glue
/// checks it against the surface before anything is drawn or allocated.
package struct ChannelRect: Sendable, Equatable, Hashable, CustomStringConvertible {
    package var x: Int
    package var y: Int
    package var width: Int
    package var height: Int

    package init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    package var description: String { "\(width)x\(height)+\(x)+\(y)" }
}

/// Commands a guest sends on its framebuffer channel, one per `CHANNEL_DATA` (`Protocols/framebuffer.md` §3).
/// All integers are big-endian; pixels are 4 bytes each: blue, green, red, unused.
package enum FramebufferGuestCommand: Sendable, Equatable {
    /// 0x01: pixels for a rectangle; `compressed` means `data` is one zlib stream of them.
    case put(ChannelRect, compressed: Bool, data: ArraySlice<UInt8>)
    /// 0x02: fill a rectangle with `0x00RRGGBB`.
    case fill(ChannelRect, colour: UInt32)
    /// 0x03: copy a block within the surface.
    case copy(sourceX: Int, sourceY: Int, destination: ChannelRect)
    /// 0x04: the frame is complete; the hub answers FRAME_DONE (and the frame-done line) when shown.
    case frame(UInt32)
    /// 0x05: take the whole screen and the input.
    case preempt
    /// 0x06: give them back.
    case release
    /// 0x07: ask for a shared-memory surface (Unix-socket guests; answered by the SURFACE event with a memfd).
    case surface
    /// 0x08: the guest drew these rectangles into its shared surface: compose them (each checked like PUT).
    case flush([ChannelRect])

    package enum Tag {
        package static let put: UInt8 = 0x01
        package static let fill: UInt8 = 0x02
        package static let copy: UInt8 = 0x03
        package static let frame: UInt8 = 0x04
        package static let preempt: UInt8 = 0x05
        package static let release: UInt8 = 0x06
        package static let surface: UInt8 = 0x07
        package static let flush: UInt8 = 0x08
    }

    /// Most damage rectangles one FLUSH may name (its count is a u8).
    package static let maxFlushRects = 255

    /// Why a command could not be decoded: becomes an ERROR with `malformed_frame` (8).
    package struct DecodeError: Error, Sendable, Equatable, CustomStringConvertible {
        package var description: String

        package init(description: String) { self.description = description }
    }

    /// The command's name as refusals start with it (`Protocols/framebuffer.md` §3.2, errors).
    package static func name(ofTag tag: UInt8) -> String {
        switch tag {
        case Tag.put: "PUT"
        case Tag.fill: "FILL"
        case Tag.copy: "COPY"
        case Tag.frame: "FRAME"
        case Tag.preempt: "PREEMPT"
        case Tag.release: "RELEASE"
        case Tag.surface: "SURFACE"
        case Tag.flush: "FLUSH"
        default: "command 0x\(String(tag, radix: 16))"
        }
    }

    package static func decode(_ data: ArraySlice<UInt8>) throws(DecodeError) -> FramebufferGuestCommand {
        let bytes = Array(data)
        guard let tag = bytes.first else { throw DecodeError(description: "empty framebuffer command") }
        func u16(_ at: Int) -> Int { Int(bytes[at]) << 8 | Int(bytes[at + 1]) }
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }
        func need(_ count: Int, exact: Bool = true) throws(DecodeError) {
            if exact ? bytes.count != count : bytes.count < count {
                throw DecodeError(
                    description: "command 0x\(String(tag, radix: 16)) needs \(count) bytes, got \(bytes.count)")
            }
        }
        func rect(_ at: Int) -> ChannelRect {
            ChannelRect(x: u16(at), y: u16(at + 2), width: u16(at + 4), height: u16(at + 6))
        }
        switch tag {
        case Tag.put:
            try need(10, exact: false)
            guard bytes[9] & ~1 == 0 else { throw DecodeError(description: "unknown put flags \(bytes[9])") }
            return .put(rect(1), compressed: bytes[9] & 1 != 0, data: data.dropFirst(10))
        case Tag.fill:
            try need(13)
            return .fill(rect(1), colour: u32(9) & 0x00ff_ffff)
        case Tag.copy:
            try need(13)
            return .copy(sourceX: u16(1), sourceY: u16(3), destination: rect(5))
        case Tag.frame:
            try need(5)
            return .frame(u32(1))
        case Tag.preempt:
            try need(1)
            return .preempt
        case Tag.release:
            try need(1)
            return .release
        case Tag.surface:
            try need(1)
            return .surface
        case Tag.flush:
            try need(2, exact: false)
            let count = Int(bytes[1])
            guard count > 0 else { throw DecodeError(description: "FLUSH names no rectangle") }
            try need(2 + 8 * count)
            return .flush((0..<count).map { rect(2 + 8 * $0) })
        default:
            throw DecodeError(description: "unknown framebuffer command 0x\(String(tag, radix: 16))")
        }
    }

    package func encode() -> [UInt8] {
        func rect(_ r: ChannelRect) -> [UInt8] { [r.x, r.y, r.width, r.height].flatMap(be16) }
        switch self {
        case .put(let r, let compressed, let data): return [Tag.put] + rect(r) + [compressed ? 1 : 0] + data
        case .fill(let r, let colour): return [Tag.fill] + rect(r) + be32(colour)
        case .copy(let sx, let sy, let r): return [Tag.copy] + be16(sx) + be16(sy) + rect(r)
        case .frame(let number): return [Tag.frame] + be32(number)
        case .preempt: return [Tag.preempt]
        case .release: return [Tag.release]
        case .surface: return [Tag.surface]
        case .flush(let rects):
            let named = rects.prefix(Self.maxFlushRects)
            return [Tag.flush, UInt8(named.count)] + named.flatMap(rect)
        }
    }
}

/// Events the hub sends on a framebuffer channel (`Protocols/framebuffer.md` §3.2).
package enum FramebufferHubEvent: Sendable, Equatable {
    /// 0x81: a keypad key (its code, `Protocols/framebuffer.md` §4) went down or up; `keysym` is the RFB keysym it
    /// came from (0 when injected by name).
    case key(code: UInt16, down: Bool, keysym: UInt32)
    /// 0x82: a touch at screen coordinates; `action` 0 down, 1 move, 2 up.
    case touch(action: UInt8, x: Int, y: Int)
    /// 0x83: the frame numbered by the guest's FRAME command has been composed and offered to viewers.
    case frameDone(UInt32)
    /// 0x84: this partition gained (1) or lost (0) input focus.
    case focus(Bool)
    /// 0x85: preemption state of the screen: `by` is the preempting partition, empty when released.
    case preemption(by: String)
    /// 0x86: the shared-memory surface asked for by SURFACE: its descriptor rides on this frame's first
    /// byte (`SCM_RIGHTS`). Pixels are 4 bytes (blue, green, red, unused), rows `stride` bytes apart.
    case surface(width: Int, height: Int, stride: UInt32, size: UInt64)

    package func encode() -> [UInt8] {
        switch self {
        case .key(let code, let down, let keysym): return [0x81, down ? 1 : 0] + be16(Int(code)) + be32(keysym)
        case .touch(let action, let x, let y): return [0x82, action] + be16(x) + be16(y)
        case .frameDone(let number): return [0x83] + be32(number)
        case .focus(let focused): return [0x84, focused ? 1 : 0]
        case .preemption(let by):
            let name = Array(by.utf8.prefix(64))
            return [0x85, UInt8(name.count)] + name
        case .surface(let width, let height, let stride, let size):
            return [0x86] + be16(width) + be16(height) + be32(stride) + be32(UInt32(size >> 32))
                + be32(UInt32(size & 0xffff_ffff))
        }
    }
}

@inline(__always)
private func be16(_ value: Int) -> [UInt8] { [UInt8((value >> 8) & 0xff), UInt8(value & 0xff)] }
@inline(__always)
private func be32(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
}
