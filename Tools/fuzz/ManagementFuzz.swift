// libFuzzer entry for the management envelope decoder (Protocols/management.md §2): every envelope submitted
// through mgmt.submit or relayed by a partition is decoded by it before any signature is checked. Built by
// run-management-fuzz.sh from the ManagementWire sources as one module.
//
// Properties checked beyond "does not crash":
// - a decoded envelope re-encodes to exactly the bytes it came from (one encoding per command, so what is
//   verified is what was signed), and its body bytes to exactly its body;
// - the bounds of §2.5 hold for everything decoded;
// - a relay result that decodes re-encodes to the same bytes.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManagement(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // SAFETY: libFuzzer guarantees `data` points at `size` readable bytes for the duration of the call.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let result = try? ManagementRelayResult.decode(bytes[...]) {
        precondition(result.encoded() == bytes, "relay result encode → decode changed the bytes")
    }
    guard let envelope = try? ManagementCodec.decodeEnvelope(bytes[...]) else { return 0 }
    precondition(ManagementCodec.encodeEnvelope(envelope) == bytes, "envelope bytes not canonical")
    precondition(ManagementCodec.encodeBody(envelope.body) == envelope.bodyBytes, "body bytes not canonical")
    precondition((1...ManagementCodec.maxSignatures).contains(envelope.signatures.count))
    precondition(envelope.body.parameters.count <= ManagementCodec.maxParameters)
    precondition(envelope.signatures.allSatisfy { $0.keyID.count == 8 && $0.signature.count == 64 })
    precondition(Set(envelope.signatures.map(\.keyID)).count == envelope.signatures.count)
    return 0
}
