import JSON

/// One case of a `.vectors` file: `key: value` fields, cases separated by blank lines, `#` comments.
struct VectorCase {
    var fields: [String: String] = [:]
    subscript(key: String) -> String? { fields[key] }
}

enum Vectors {
    /// The repository root: the nearest ancestor of this file holding Package.swift.
    static var repoRoot: String {
        var path = #filePath
        while let slash = path.lastIndex(of: "/") {
            path = String(path[..<slash])
            if fileExists(path + "/Package.swift") { return path }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }

    static func load(_ name: String) throws -> [VectorCase] {
        let text = try readFile(repoRoot + "/Protocols/vectors/control/" + name)
        var cases: [VectorCase] = []
        var current = VectorCase()
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            if line.hasPrefix("#") { continue }
            if line.isEmpty {
                if !current.fields.isEmpty { cases.append(current) }
                current = VectorCase()
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            var value = line[line.index(after: colon)...]
            if value.hasPrefix(" ") { value = value.dropFirst() }
            current.fields[key] = String(value)
        }
        if !current.fields.isEmpty { cases.append(current) }
        return cases
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

struct FileError: Error { let path: String }

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

func readFile(_ path: String) throws -> String {
    guard let file = fopen(path, "rb") else { throw FileError(path: path) }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes.append(contentsOf: buffer[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}
