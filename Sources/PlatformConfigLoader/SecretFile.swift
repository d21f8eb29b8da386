#if canImport(Glibc)
    import Glibc
    private let systemRead = Glibc.read
#elseif canImport(Darwin)
    import Darwin
    private let systemRead = Darwin.read
#endif

/// Small whole-file reads for configuration and secret files, bounded so a wrong path (say, /dev/zero)
/// cannot exhaust memory.
enum SecretFile {
    /// Secrets are short; anything larger is almost certainly the wrong file.
    static let maxSecretBytes = 4096
    /// Configuration files are a few kilobytes; this leaves ample room.
    static let maxConfigBytes = 4 << 20

    struct ReadError: Error, CustomStringConvertible {
        var description: String
    }

    /// The secret in `name` (relative to `base` unless absolute), trailing whitespace and newlines removed.
    static func read(_ name: String, relativeTo base: String?) throws(ReadError) -> String {
        let path = resolve(name, relativeTo: base)
        let bytes = try readAll(path: path, limit: maxSecretBytes)
        var text = String(decoding: bytes, as: UTF8.self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        guard !text.isEmpty else { throw ReadError(description: "'\(path)' is empty") }
        return text
    }

    static func resolve(_ name: String, relativeTo base: String?) -> String {
        guard let base, !name.hasPrefix("/"), !base.isEmpty else { return name }
        return base.hasSuffix("/") ? base + name : base + "/" + name
    }

    /// Reads a file (`-` is standard input) up to `limit` bytes; a longer file is an error, not a truncation.
    static func readAll(path: String, limit: Int) throws(ReadError) -> [UInt8] {
        let fd: Int32
        if path == "-" {
            fd = STDIN_FILENO
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ReadError(description: "cannot open '\(path)': \(errnoText())") }
        }
        defer { if fd != STDIN_FILENO { close(fd) } }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            // SAFETY: the buffer pointer is valid for chunk.count bytes for the duration of the call.
            let count = chunk.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadError(description: "cannot read '\(path)': \(errnoText())")
            }
            if count == 0 { break }
            guard result.count + count <= limit else {
                throw ReadError(description: "'\(path)' is larger than \(limit) bytes")
            }
            result.append(contentsOf: chunk[0..<count])
        }
        return result
    }

    private static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}
