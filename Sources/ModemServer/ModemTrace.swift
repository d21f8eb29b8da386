/// The AT conversation of one modem, as lines per direction, in a bounded ring.
struct ModemTrace {
    struct Entry {
        let seq: UInt64
        /// `to_modem` (what the guest sent) or `from_modem`.
        let direction: String
        let line: String
    }

    static let defaultCapacity = 2000
    let capacity: Int
    static let maxLineBytes = 512
    private(set) var entries: [Entry] = []
    private(set) var lastSeq: UInt64 = 0
    private var pending: [String: [UInt8]] = [:]

    init(capacity: Int = ModemTrace.defaultCapacity) { self.capacity = max(1, capacity) }

    /// Splits `bytes` into lines at CR/LF; `> ` prompts are recorded as lines of their own.
    mutating func record(_ direction: String, _ bytes: some Sequence<UInt8>) -> [Entry] {
        var buffer = pending[direction] ?? []
        var added: [Entry] = []
        for byte in bytes {
            if byte == 0x0D || byte == 0x0A || byte == 0x1A || byte == 0x1B {
                if !buffer.isEmpty { added.append(append(direction, buffer)) }
                buffer.removeAll(keepingCapacity: true)
                if byte == 0x1A { added.append(append(direction, Array("<ctrl-z>".utf8))) }
                if byte == 0x1B { added.append(append(direction, Array("<esc>".utf8))) }
                continue
            }
            if buffer.count < ModemTrace.maxLineBytes { buffer.append(byte) }
        }
        if direction == "from_modem", buffer == [0x3E, 0x20] {
            added.append(append(direction, buffer))
            buffer.removeAll()
        }
        pending[direction] = buffer
        return added
    }

    private mutating func append(_ direction: String, _ bytes: [UInt8]) -> Entry {
        lastSeq += 1
        let printable = bytes.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }
        let entry = Entry(seq: lastSeq, direction: direction, line: String(decoding: printable, as: UTF8.self))
        entries.append(entry)
        if entries.count > capacity { entries.removeFirst(entries.count - capacity) }
        return entry
    }
}
