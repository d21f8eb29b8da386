/// The answer to an envelope relayed over the `management` device channel (`Protocols/management.md` §2.3):
/// one `CHANNEL_DATA` payload per submitted envelope, in order.
package struct ManagementRelayResult: Equatable, Sendable {
    /// `accepted`, or the refusal code (§4).
    package var code: String
    /// For people; empty when accepted.
    package var detail: String
    /// The operation's output as JSON text (`{}` when it has none); empty when refused.
    package var output: String

    package init(code: String, detail: String = "", output: String = "") {
        self.code = code
        self.detail = detail
        self.output = output
    }

    /// status (1: 0 accepted, 1 refused), code (str8), detail (u16 length + UTF-8), output (the rest, UTF-8).
    package func encoded() -> [UInt8] {
        var out: [UInt8] = [code == "accepted" ? 0 : 1]
        ManagementCodec.appendString8(code, to: &out)
        let detailBytes = Array(detail.utf8.prefix(Int(UInt16.max)))
        ManagementCodec.appendUInt16(UInt16(detailBytes.count), to: &out)
        out += detailBytes
        out += Array(output.utf8)
        return out
    }

    package static func decode(_ bytes: ArraySlice<UInt8>) throws(ManagementWireError) -> ManagementRelayResult {
        var reader = ManagementReader(bytes)
        let status = try reader.uint8("status")
        let code = try reader.utf8(try reader.string8Bytes("code", max: 255), "code")
        guard status <= 1, (status == 0) == (code == "accepted") else {
            throw ManagementWireError("bad_flag", "status \(status) with code \(code)")
        }
        let detailLength = Int(try reader.uint16("detail length"))
        let detail = try reader.utf8(try reader.bytes(detailLength, "detail"), "detail")
        let rest = bytes.count - 1 - 1 - code.utf8.count - 2 - detailLength
        let output = try reader.utf8(try reader.bytes(rest, "output"), "output")
        return ManagementRelayResult(code: code, detail: detail, output: output)
    }
}
