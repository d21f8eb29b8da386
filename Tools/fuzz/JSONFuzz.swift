// libFuzzer entry for the strict JSON parser (RFC 8259, Sources/JSON): arbitrary bytes are parsed, and every
// value the parser accepts must serialise to text it reads back to an equal value. Objects are also checked
// member by member: each key is found by lookup with its value (the parser's hashed duplicate check and the
// index of large objects must agree with the member list), and no key appears twice.

@_cdecl("LLVMFuzzerTestOneInput")
public func jsonFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSON.parse(bytes) else { return 0 }
    let again = try? JSON.parse(value.serializedBytes())
    precondition(again == value, "serialise/parse round trip changed a value")
    check(value)
    return 0
}

private func check(_ value: JSON) {
    switch value {
    case .object(let object):
        var seen = Set<String>()
        for member in object.members {
            precondition(seen.insert(member.key).inserted, "a key appears twice")
            precondition(object[member.key] == member.value, "lookup disagrees with the member list")
            check(member.value)
        }
        precondition(object.count == seen.count)
    case .array(let elements):
        for element in elements { check(element) }
    default:
        break
    }
}
