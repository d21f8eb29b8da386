// libFuzzer entry for the control protocol codec (Protocols/control.md): arbitrary bytes go through the
// line framer, the JSON parser and the JSON-RPC request decoder. It checks invariants, not just crashes:
// a line the framer returns never contains LF, chunking never changes the lines, and every value the parser
// accepts serialises to text the parser reads back to an equal value.

@_cdecl("LLVMFuzzerTestOneInput")
public func controlWireFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var whole = LineFramer(maxLineLength: 4096)
    let lines = whole.feed(bytes).map(Array.init)
    var split = LineFramer(maxLineLength: 4096)
    let half = bytes.count / 2
    let pieces = (split.feed(bytes[..<half]) + split.feed(bytes[half...])).map(Array.init)
    precondition(whole.overflow != nil || lines == pieces, "chunking changed the lines")
    for line in lines {
        precondition(!line.contains(0x0a), "a line contains LF")
        if let value = try? JSON.parse(line) {
            let again = try? JSON.parse(value.serializedBytes())
            precondition(again == value, "serialise/parse round trip changed a value")
        }
        _ = try? ControlRequest.decode(line: line)
        _ = try? ControlMessage.decode(line: line)
    }
    return 0
}
