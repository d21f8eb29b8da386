/// A local request on the `management` device channel (`Protocols/management.md` §2.6): not a signed command
/// but a question the management agent asks about this handset (read or reset another partition's error
/// log). `HHL1`, then one JSON object as UTF-8 text; answered with a `ManagementRelayResult`.
package enum ManagementLocalRequest {
    /// `HHL1`: tells a local request from an envelope (`HHM1`) on the same channel.
    package static let magic: [UInt8] = [0x48, 0x48, 0x4c, 0x31]
    /// The JSON text after the magic is at most this long.
    package static let maxJSONBytes = 4096

    /// Whether `bytes` are meant as a local request (they start with the magic).
    package static func isLocalRequest(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.count >= magic.count && bytes.prefix(magic.count).elementsEqual(magic)
    }

    /// The JSON text of a local request, its length checked before it is returned.
    package static func jsonText(_ bytes: ArraySlice<UInt8>) throws(ManagementWireError) -> ArraySlice<UInt8> {
        guard isLocalRequest(bytes) else { throw ManagementWireError("bad_magic", "not HHL1") }
        let text = bytes.dropFirst(magic.count)
        guard !text.isEmpty, text.count <= maxJSONBytes else {
            throw ManagementWireError("bad_length", "\(text.count) bytes of JSON (1...\(maxJSONBytes))")
        }
        return text
    }

    /// `HHL1` followed by `json`.
    package static func encode(json: [UInt8]) -> [UInt8] { magic + json }
}
