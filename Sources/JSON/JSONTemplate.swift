/// A JSON object serialised once, with some members left open: each use writes the fixed text as it is and only
/// the open members' values. For answers whose shape and most members never change but which are asked for in
/// tight loops (`hub.info`): the text is the one ``JSON/serializedBytes()`` gives for the object with those values.
package struct JSONTemplate: Sendable {
    /// The fixed text before each open member's value, then the text after the last one.
    private let segments: [[UInt8]]
    /// The open members' keys, in the object's order.
    package let openKeys: [String]
    /// Bytes of fixed text (what a use writes besides the open values).
    package let fixedByteCount: Int

    /// `object` with the members named in `open` left open (their values in `object` are not used). A key in
    /// `open` that `object` does not hold is not written at all.
    package init(_ object: JSONObject, open: Set<String>) {
        var segments: [[UInt8]] = []
        var keys: [String] = []
        var current: [UInt8] = [UInt8(ascii: "{")]
        for (position, member) in object.members.enumerated() {
            if position > 0 { current.append(UInt8(ascii: ",")) }
            JSON.writeString(member.key, into: &current)
            current.append(UInt8(ascii: ":"))
            if open.contains(member.key) {
                segments.append(current)
                keys.append(member.key)
                current = []
            } else {
                member.value.write(into: &current)
            }
        }
        current.append(UInt8(ascii: "}"))
        segments.append(current)
        self.segments = segments
        self.openKeys = keys
        self.fixedByteCount = segments.reduce(0) { $0 + $1.count }
    }

    /// Appends the object's text; `value(index, &out)` appends the value of open member `index` (of ``openKeys``)
    /// as compact JSON text.
    package func write(into out: inout [UInt8], value: (Int, inout [UInt8]) -> Void) {
        for index in 0..<openKeys.count {
            out.append(contentsOf: segments[index])
            value(index, &out)
        }
        out.append(contentsOf: segments[openKeys.count])
    }

    /// Appends the object's text with `values` (one per open member, in ``openKeys`` order; missing ones null).
    package func write(_ values: [JSON], into out: inout [UInt8]) {
        write(into: &out) { index, out in
            if index < values.count { values[index].write(into: &out) } else { JSON.writeRaw("null", into: &out) }
        }
    }
}
