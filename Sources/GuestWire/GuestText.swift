/// Human text in guest frames (`Protocols/guest.md` §2, `text`): at most 1024 bytes of UTF-8. Text the hub
/// composes (a reason with its sender's name in front) is shortened at a character boundary rather than refused:
/// it explains something, and failing what it explains because it is long would be worse.
package enum GuestText {
    package static let maxBytes = 1024

    /// `text` cut to at most `maxBytes` bytes of UTF-8, at a scalar boundary.
    package static func shortened(_ text: String, toBytes maxBytes: Int = maxBytes) -> String {
        let utf8 = text.utf8
        guard utf8.count > maxBytes else { return text }
        var end = utf8.index(utf8.startIndex, offsetBy: max(0, maxBytes))
        // Back up over continuation bytes (10xxxxxx) so the cut stays valid UTF-8.
        while end > utf8.startIndex && utf8[end] & 0xc0 == 0x80 { end = utf8.index(before: end) }
        return String(decoding: utf8[..<end], as: UTF8.self)
    }
}
