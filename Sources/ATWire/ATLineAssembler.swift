/// Turns the bytes a host writes to a modem into command lines and SMS bodies (ITU-T V.250 §5.2,
/// 3GPP TS 27.005 §3.5.1 for the `> ` prompt). Chunking-safe: any split of the input gives the same events.
package struct ATLineAssembler: Sendable {
    /// What the assembler recognised.
    package enum Event: Sendable, Equatable {
        /// A command line without its terminator, trimmed of surrounding spaces.
        case line(String)
        /// A line that held bytes no command line may contain (NUL, other control characters, non-ASCII).
        case garbage(length: Int)
        /// A line longer than the limit; everything up to its terminator was discarded.
        case tooLong(length: Int)
        /// Ctrl-Z outside an SMS prompt.
        case strayCtrlZ
        /// The SMS body typed at the prompt, ended by Ctrl-Z (CRs inside kept as they came).
        case promptBody([UInt8])
        /// The prompt was aborted with Esc.
        case promptAborted
        /// The body exceeded the limit; it was discarded and the prompt ended.
        case promptTooLong(length: Int)
    }

    package static let defaultMaxLineBytes = 2048
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let backspace: UInt8 = 0x08
    static let ctrlZ: UInt8 = 0x1A
    static let esc: UInt8 = 0x1B

    /// Echo characters back (ATE1).
    package var echo = true
    /// Longest command line or SMS body accepted, in bytes.
    package var maxLineBytes: Int
    /// Whether an SMS body is being typed after a `> ` prompt.
    package private(set) var inPrompt = false

    private var buffer: [UInt8] = []
    private var length = 0
    private var overflowed = false
    private var dirty = false

    package init(maxLineBytes: Int = ATLineAssembler.defaultMaxLineBytes) {
        self.maxLineBytes = maxLineBytes
    }

    /// Switches to SMS-body mode (after the modem printed `> `).
    package mutating func enterPrompt() {
        inPrompt = true
        resetLine()
    }

    /// Leaves SMS-body mode without an event (the modem gave up, e.g. the backend went away).
    package mutating func cancelPrompt() {
        inPrompt = false
        resetLine()
    }

    private mutating func resetLine() {
        buffer.removeAll(keepingCapacity: true)
        length = 0
        overflowed = false
        dirty = false
    }

    /// Consumes bytes; appends what to echo to `echoOut` and returns what was recognised, in order.
    package mutating func feed(_ bytes: some Sequence<UInt8>, echoOut: inout [UInt8]) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if inPrompt {
                feedPrompt(byte, echoOut: &echoOut, events: &events)
            } else {
                feedCommand(byte, echoOut: &echoOut, events: &events)
            }
        }
        return events
    }

    private mutating func feedPrompt(_ byte: UInt8, echoOut: inout [UInt8], events: inout [Event]) {
        switch byte {
        case ATLineAssembler.ctrlZ:
            inPrompt = false
            events.append(overflowed ? .promptTooLong(length: length) : .promptBody(buffer))
            resetLine()
        case ATLineAssembler.esc:
            inPrompt = false
            events.append(.promptAborted)
            resetLine()
        case ATLineAssembler.backspace:
            if !buffer.isEmpty, !overflowed {
                buffer.removeLast()
                length -= 1
                if echo { echoOut += [0x08, 0x20, 0x08] }
            }
        default:
            length += 1
            if length > maxLineBytes {
                overflowed = true
                buffer.removeAll()
            } else {
                buffer.append(byte)
            }
            if echo { echoOut.append(byte) }
            // A new line inside the body gets a fresh prompt, as real modems print it.
            if byte == ATLineAssembler.cr { echoOut += [ATLineAssembler.lf, 0x3E, 0x20] }
        }
    }

    private mutating func feedCommand(_ byte: UInt8, echoOut: inout [UInt8], events: inout [Event]) {
        switch byte {
        case ATLineAssembler.cr:
            if echo { echoOut.append(byte) }
            if overflowed {
                events.append(.tooLong(length: length))
            } else if dirty {
                events.append(.garbage(length: length))
            } else {
                let line = String(decoding: buffer, as: UTF8.self)
                let trimmed = line.drop(while: { $0 == " " || $0 == "\t" })
                let text = String(trimmed.reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
                if !text.isEmpty { events.append(.line(text)) }
            }
            resetLine()
        case ATLineAssembler.lf:
            // V.250: a line feed after the terminator is ignored; hosts send CR LF.
            break
        case ATLineAssembler.backspace:
            if !buffer.isEmpty, !overflowed {
                buffer.removeLast()
                length -= 1
                if echo { echoOut += [0x08, 0x20, 0x08] }
            }
        case ATLineAssembler.ctrlZ:
            events.append(.strayCtrlZ)
            resetLine()
        default:
            if echo { echoOut.append(byte) }
            length += 1
            if length > maxLineBytes {
                overflowed = true
                buffer.removeAll()
                return
            }
            if byte < 0x20 && byte != 0x09 || byte >= 0x7F { dirty = true }
            if !overflowed { buffer.append(byte) }
        }
    }
}
