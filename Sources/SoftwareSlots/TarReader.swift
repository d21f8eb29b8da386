/// A streaming reader of POSIX ustar archives, for image bundles shipped as one `.tar` file
/// (`Protocols/management.md` §"Images", tar bundles). Pure: bytes in, entries and their data out, in any
/// chunking. Only regular files and directories are accepted; every other entry type (links, devices, FIFOs,
/// PAX and GNU extension headers) is refused, as are paths that are not bundle paths, duplicate paths, sizes
/// not in plain octal, bad header checksums, and archives past the image limits.
package struct TarReader {
    package enum Event: Equatable {
        case directory(path: String)
        case file(path: String, size: UInt64, executable: Bool)
        case data(ArraySlice<UInt8>)
        /// The current file's data is complete.
        case fileEnd
    }

    let limits: ImageLimits
    private var header: [UInt8] = []
    /// Data bytes left of the current file, then the padding to its 512-byte boundary.
    private var remaining: UInt64 = 0
    private var padding: UInt64 = 0
    private var ended = false
    private var entries = 0
    private var totalBytes: UInt64 = 0
    private var seen: Set<String> = []

    package init(limits: ImageLimits) { self.limits = limits }

    /// Feeds the next bytes of the archive; `sink` receives what they complete.
    package mutating func feed(
        _ bytes: ArraySlice<UInt8>, _ sink: (Event) throws(ImageError) -> Void
    ) throws(ImageError) {
        var rest = bytes
        while !rest.isEmpty, !ended {
            if remaining > 0 {
                let take = Int(min(UInt64(rest.count), remaining))
                try sink(.data(rest.prefix(take)))
                rest = rest.dropFirst(take)
                remaining -= UInt64(take)
                if remaining == 0 { try sink(.fileEnd) }
            } else if padding > 0 {
                let take = Int(min(UInt64(rest.count), padding))
                rest = rest.dropFirst(take)
                padding -= UInt64(take)
            } else {
                let take = min(rest.count, 512 - header.count)
                header += rest.prefix(take)
                rest = rest.dropFirst(take)
                if header.count == 512 {
                    let block = header
                    header.removeAll(keepingCapacity: true)
                    try entry(block, sink)
                }
            }
        }
    }

    /// The archive ended: it must end between entries (a zero block, or at least a whole last entry).
    package func finish() throws(ImageError) {
        guard header.isEmpty, remaining == 0, padding == 0 else {
            throw ImageError(.tarInvalid, "the archive ends inside an entry")
        }
    }

    private mutating func entry(_ block: [UInt8], _ sink: (Event) throws(ImageError) -> Void) throws(ImageError) {
        if block.allSatisfy({ $0 == 0 }) {
            ended = true
            return
        }
        guard Self.checksumMatches(block) else { throw ImageError(.tarInvalid, "bad header checksum") }
        guard block[257..<262].elementsEqual("ustar".utf8) else { throw ImageError(.tarInvalid, "not a ustar header") }
        let type = block[156]
        guard type == UInt8(ascii: "0") || type == 0 || type == UInt8(ascii: "5") else {
            let name = (try? Self.path(block)) ?? "?"
            throw ImageError(.fileKindRefused, "\(name): entry type \(type) is not a regular file or directory")
        }
        var path = try Self.path(block)
        entries += 1
        guard entries <= limits.maxImageFiles else {
            throw ImageError(.tooManyFiles, "more than \(limits.maxImageFiles) entries")
        }
        // `tar -C DIR .` writes `./` before every name and an entry for `.` itself: the bundle's root.
        while path.hasPrefix("./") { path.removeFirst(2) }
        if type == UInt8(ascii: "5"), path.hasSuffix("/") { path.removeLast() }
        if type == UInt8(ascii: "5"), path.isEmpty || path == "." { return }
        if let problem = BundlePath.problem(path) { throw ImageError(.pathInvalid, "\(path): \(problem)") }
        guard seen.insert(path).inserted else { throw ImageError(.tarInvalid, "\(path) appears twice") }
        let size = try Self.octal(block[124..<136], "size")
        switch type {
        case UInt8(ascii: "0"), 0:
            totalBytes += size
            guard totalBytes <= UInt64(limits.maxImageBytes) else {
                throw ImageError(.imageTooLarge, "over \(limits.maxImageBytes) bytes")
            }
            let mode = try Self.octal(block[100..<108], "mode")
            try sink(.file(path: path, size: size, executable: mode & 0o100 != 0))
            remaining = size
            padding = (512 - size % 512) % 512
            if size == 0 { try sink(.fileEnd) }
        case UInt8(ascii: "5"):
            guard size == 0 else { throw ImageError(.tarInvalid, "directory \(path) has a size") }
            try sink(.directory(path: path))
        default:
            break
        }
    }

    /// `prefix/name` of a ustar header, each NUL-terminated within its field.
    static func path(_ block: [UInt8]) throws(ImageError) -> String {
        func field(_ range: Range<Int>) -> ArraySlice<UInt8> {
            let bytes = block[range]
            return bytes.prefix { $0 != 0 }
        }
        let name = field(0..<100)
        let prefix = field(345..<500)
        guard !name.isEmpty else { throw ImageError(.pathInvalid, "empty name") }
        let bytes = prefix.isEmpty ? Array(name) : Array(prefix) + [UInt8(ascii: "/")] + Array(name)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ImageError(.pathInvalid, "name is not UTF-8")
        }
        return text
    }

    /// A plain octal field: digits, then NULs or spaces; base-256 and anything else are refused.
    static func octal(_ field: ArraySlice<UInt8>, _ what: String) throws(ImageError) -> UInt64 {
        var value: UInt64 = 0
        var digits = 0
        var done = false
        for byte in field {
            if byte == 0 || byte == UInt8(ascii: " ") {
                done = digits > 0 || done
                continue
            }
            guard !done, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "7"), digits < 11 else {
                throw ImageError(.tarInvalid, "\(what) is not plain octal")
            }
            value = value << 3 | UInt64(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return value
    }

    static func checksumMatches(_ block: [UInt8]) -> Bool {
        guard let stored = try? octal(block[148..<156], "checksum") else { return false }
        var sum: UInt64 = 0
        for (index, byte) in block.enumerated() { sum += (148..<156).contains(index) ? 32 : UInt64(byte) }
        return sum == stored
    }
}
