/// Encoding numbers of RFC 6143 §7.7–§7.8 that this server knows.
package enum RFBEncoding {
    package static let raw: Int32 = 0
    package static let copyRect: Int32 = 1
    package static let rre: Int32 = 2
    package static let hextile: Int32 = 5
    package static let tight: Int32 = 7
    package static let trle: Int32 = 15
    package static let zrle: Int32 = 16
    /// Pseudo-encoding: the client can take a cursor shape (§7.8.1).
    package static let cursor: Int32 = -239
    /// Pseudo-encoding: the client can follow a framebuffer size change (§7.8.2).
    package static let desktopSize: Int32 = -223
    /// Pseudo-encodings −32…−23: Tight's JPEG quality level 0…9 (Protocols/framebuffer.md §2.6).
    package static let qualityLevel0: Int32 = -32
    /// Pseudo-encodings −256…−247: Tight's compression level 0…9.
    package static let compressLevel0: Int32 = -256
}

/// What one client asked for in SetEncodings, reduced to what the server uses.
package struct RFBEncodingPreferences: Sendable, Equatable {
    /// The encoding used for pixel data: the client's first choice among Raw, Hextile, Tight and ZRLE.
    package var pixels: Int32 = RFBEncoding.raw
    /// Tight's quality and compression levels (the last of each the client listed); the compression level
    /// also sets ZRLE's zlib level.
    package var tight = RFBTightSettings()
    package var copyRect = false
    package var cursor = false
    package var desktopSize = false
    /// Encodings the client listed that this server ignores (for counters and logs).
    package var unknown = 0

    package init() {}

    /// §7.5.2: the list is in the client's order of preference; unknown ones are ignored.
    package init(_ encodings: [Int32]) {
        var chosen: Int32?
        for encoding in encodings {
            switch encoding {
            case RFBEncoding.raw, RFBEncoding.hextile, RFBEncoding.tight, RFBEncoding.zrle:
                if chosen == nil { chosen = encoding }
            case RFBEncoding.qualityLevel0...(RFBEncoding.qualityLevel0 + 9):
                tight.qualityLevel = Int(encoding - RFBEncoding.qualityLevel0)
            case RFBEncoding.compressLevel0...(RFBEncoding.compressLevel0 + 9):
                tight.compressLevel = Int(encoding - RFBEncoding.compressLevel0)
            case RFBEncoding.copyRect: copyRect = true
            case RFBEncoding.cursor: cursor = true
            case RFBEncoding.desktopSize: desktopSize = true
            default: unknown += 1
            }
        }
        pixels = chosen ?? RFBEncoding.raw
    }
}
