/// The handset's keypad. Codes are what the guest receives (`Protocols/framebuffer.md` §4): digits,
/// `*` and `#` are their ASCII codes; the other keys use codes from 0x100.
package enum KeypadKey: UInt16, Sendable, CaseIterable {
    case digit0 = 0x30, digit1, digit2, digit3, digit4, digit5, digit6, digit7, digit8, digit9
    case star = 0x2a
    case hash = 0x23
    case up = 0x100, down, left, right, select
    case softLeft = 0x105, softRight, call, end, clear

    /// The name used by `fb.key` and in the spec table.
    package var name: String {
        switch self {
        case .digit0, .digit1, .digit2, .digit3, .digit4, .digit5, .digit6, .digit7, .digit8, .digit9:
            String(UnicodeScalar(UInt8(rawValue)))
        case .star: "*"
        case .hash: "#"
        case .up: "up"
        case .down: "down"
        case .left: "left"
        case .right: "right"
        case .select: "select"
        case .softLeft: "soft-left"
        case .softRight: "soft-right"
        case .call: "call"
        case .end: "end"
        case .clear: "clear"
        }
    }

    package init?(name: String) {
        guard let key = KeypadKey.allCases.first(where: { $0.name == name }) else { return nil }
        self = key
    }
}

/// X11 keysyms (as RFB KeyEvent carries them, RFC 6143 §7.5.4) mapped to keypad keys.
package enum Keypad {
    /// The documented table: keysym, its X11 name, the keypad key. Several keysyms may map to one key.
    package static let table: [(keysym: UInt32, keysymName: String, key: KeypadKey)] = {
        var rows: [(UInt32, String, KeypadKey)] = []
        for digit in 0...9 {
            let key = KeypadKey(rawValue: UInt16(0x30 + digit))!
            rows.append((UInt32(0x30 + digit), "\(digit)", key))
            rows.append((UInt32(0xffb0 + digit), "KP_\(digit)", key))
        }
        rows += [
            (0x2a, "asterisk", .star), (0xffaa, "KP_Multiply", .star),
            (0x23, "numbersign", .hash),
            (0xff52, "Up", .up), (0xff54, "Down", .down), (0xff51, "Left", .left), (0xff53, "Right", .right),
            (0xff0d, "Return", .select), (0xff8d, "KP_Enter", .select), (0x20, "space", .select),
            (0xffbe, "F1", .softLeft), (0xffbf, "F2", .softRight),
            (0xffc0, "F3", .call), (0xff50, "Home", .call),
            (0xffc1, "F4", .end), (0xff1b, "Escape", .end), (0xff57, "End", .end),
            (0xff08, "BackSpace", .clear), (0xffff, "Delete", .clear),
        ]
        return rows
    }()

    private static let byKeysym: [UInt32: KeypadKey] = Dictionary(
        table.map { ($0.keysym, $0.key) }, uniquingKeysWith: { first, _ in first })

    /// The keypad key for an RFB keysym, or nil (the key is ignored and counted).
    package static func key(forKeysym keysym: UInt32) -> KeypadKey? { byKeysym[keysym] }

    /// The first keysym that produces `key` (for injecting keys).
    package static func keysym(for key: KeypadKey) -> UInt32 { table.first { $0.key == key }!.keysym }
}

/// A touch on the screen, from an RFB pointer (button 1 is the finger) or injected.
package enum TouchAction: UInt8, Sendable {
    case down = 0
    case move = 1
    case up = 2

    package var name: String {
        switch self {
        case .down: "down"
        case .move: "move"
        case .up: "up"
        }
    }
}

/// Turns RFB pointer events into touch events (button 1 pressed = finger on the glass).
package struct TouchTracker: Sendable {
    private var pressed = false
    private var lastX = -1
    private var lastY = -1

    package init() {}

    package mutating func pointer(buttonMask: UInt8, x: Int, y: Int) -> TouchAction? {
        let down = buttonMask & 1 != 0
        defer {
            pressed = down
            lastX = x
            lastY = y
        }
        switch (pressed, down) {
        case (false, true): return .down
        case (true, false): return .up
        case (true, true): return x != lastX || y != lastY ? .move : nil
        case (false, false): return nil
        }
    }
}
