/// A bounds-checked cursor over an envelope's bytes: every read checks what is left first, so a short or
/// hostile input ends in `truncated`, never a trap.
struct ManagementReader {
    private let bytes: ArraySlice<UInt8>
    private var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    var isAtEnd: Bool { index == bytes.endIndex }

    mutating func bytes(_ count: Int, _ field: String) throws(ManagementWireError) -> [UInt8] {
        guard count >= 0, bytes.endIndex - index >= count else {
            throw ManagementWireError("truncated", "\(field): needs \(count) bytes, \(bytes.endIndex - index) left")
        }
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    mutating func uint8(_ field: String) throws(ManagementWireError) -> UInt8 { try bytes(1, field)[0] }

    mutating func uint16(_ field: String) throws(ManagementWireError) -> UInt16 {
        try bytes(2, field).reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func uint32(_ field: String) throws(ManagementWireError) -> UInt32 {
        try bytes(4, field).reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func uint64(_ field: String) throws(ManagementWireError) -> UInt64 {
        try bytes(8, field).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A one-byte length and that many bytes, the length at most `max`.
    mutating func string8Bytes(_ field: String, max: Int) throws(ManagementWireError) -> [UInt8] {
        let length = Int(try uint8(field))
        guard length <= max else { throw ManagementWireError("bad_length", "\(field): \(length) bytes, limit \(max)") }
        return try bytes(length, field)
    }

    /// A name (operation, target, authority): 1...32 bytes of ASCII letters, digits, `-` and `_`, starting with a
    /// letter (`Protocols/management.md` §2.2).
    mutating func name(_ field: String) throws(ManagementWireError) -> String {
        let raw = try string8Bytes(field, max: ManagementCodec.maxNameBytes)
        guard let first = raw.first, Self.isLetter(first),
            raw.allSatisfy({ Self.isLetter($0) || (0x30...0x39).contains($0) || $0 == 0x2D || $0 == 0x5F })
        else { throw ManagementWireError("bad_name", "\(field) is not a name") }
        return String(decoding: raw, as: UTF8.self)
    }

    func utf8(_ raw: [UInt8], _ field: String) throws(ManagementWireError) -> String {
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw ManagementWireError("bad_string", "\(field) is not UTF-8")
        }
        return text
    }

    private static func isLetter(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }
}
