import RFBWire

/// Commands a guest sends on its framebuffer channel, one per `CHANNEL_DATA` (`Protocols/framebuffer.md` §3).
/// All integers are big-endian; pixels are 4 bytes each: blue, green, red, unused.
public enum FramebufferGuestCommand: Sendable, Equatable {
    /// 0x01: pixels for a rectangle; `compressed` means `data` is one zlib stream of them.
    case put(ScreenRect, compressed: Bool, data: ArraySlice<UInt8>)
    /// 0x02: fill a rectangle with `0x00RRGGBB`.
    case fill(ScreenRect, colour: UInt32)
    /// 0x03: copy a block within the surface.
    case copy(sourceX: Int, sourceY: Int, destination: ScreenRect)
    /// 0x04: the frame is complete; the hub answers FRAME_DONE (and the frame-done line) when shown.
    case frame(UInt32)
    /// 0x05: take the whole screen and the input.
    case preempt
    /// 0x06: give them back.
    case release

    public enum Tag {
        public static let put: UInt8 = 0x01
        public static let fill: UInt8 = 0x02
        public static let copy: UInt8 = 0x03
        public static let frame: UInt8 = 0x04
        public static let preempt: UInt8 = 0x05
        public static let release: UInt8 = 0x06
    }

    /// Why a command could not be decoded: becomes an ERROR event with `malformed_frame` (8).
    public struct DecodeError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    public static func decode(_ data: ArraySlice<UInt8>) throws(DecodeError) -> FramebufferGuestCommand {
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
        func rect(_ at: Int) -> ScreenRect {
            ScreenRect(x: u16(at), y: u16(at + 2), width: u16(at + 4), height: u16(at + 6))
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
        default:
            throw DecodeError(description: "unknown framebuffer command 0x\(String(tag, radix: 16))")
        }
    }

    public func encode() -> [UInt8] {
        func rect(_ r: ScreenRect) -> [UInt8] { [r.x, r.y, r.width, r.height].flatMap(be16) }
        switch self {
        case .put(let r, let compressed, let data): return [Tag.put] + rect(r) + [compressed ? 1 : 0] + data
        case .fill(let r, let colour): return [Tag.fill] + rect(r) + be32(colour)
        case .copy(let sx, let sy, let r): return [Tag.copy] + be16(sx) + be16(sy) + rect(r)
        case .frame(let number): return [Tag.frame] + be32(number)
        case .preempt: return [Tag.preempt]
        case .release: return [Tag.release]
        }
    }
}

/// Events the hub sends on a framebuffer channel (`Protocols/framebuffer.md` §3.2).
public enum FramebufferHubEvent: Sendable, Equatable {
    /// 0x81: a keypad key went down or up; `keysym` is the RFB keysym it came from (0 when injected by name).
    case key(KeypadKey, down: Bool, keysym: UInt32)
    /// 0x82: a touch at screen coordinates.
    case touch(TouchAction, x: Int, y: Int)
    /// 0x83: the frame numbered by the guest's FRAME command has been composed and offered to viewers.
    case frameDone(UInt32)
    /// 0x84: this partition gained (1) or lost (0) input focus.
    case focus(Bool)
    /// 0x85: preemption state of the screen: `by` is the preempting partition, empty when released.
    case preemption(by: String)
    /// 0x8F: a command was refused; `code` is a guest error code, `command` the refused command's tag.
    case error(code: UInt16, command: UInt8, reason: String)

    public func encode() -> [UInt8] {
        switch self {
        case .key(let key, let down, let keysym): return [0x81, down ? 1 : 0] + be16(Int(key.rawValue)) + be32(keysym)
        case .touch(let action, let x, let y): return [0x82, action.rawValue] + be16(x) + be16(y)
        case .frameDone(let number): return [0x83] + be32(number)
        case .focus(let focused): return [0x84, focused ? 1 : 0]
        case .preemption(let by):
            let name = Array(by.utf8.prefix(64))
            return [0x85, UInt8(name.count)] + name
        case .error(let code, let command, let reason):
            let text = Array(reason.utf8.prefix(1024))
            return [0x8f] + be16(Int(code)) + [command] + be16(text.count) + text
        }
    }
}

@inline(__always)
func be16(_ value: Int) -> [UInt8] { [UInt8((value >> 8) & 0xff), UInt8(value & 0xff)] }
@inline(__always)
func be32(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
}
