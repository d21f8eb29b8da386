#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds and reads files of this repository for the tests (the vectors in `Protocols/vectors/`).
package enum RepositoryFiles {
    /// The repository root: the nearest directory above this source file holding Package.swift.
    package static let root: String = {
        var path = #filePath
        while let slash = path.lastIndex(of: "/") {
            path = String(path[..<slash])
            if access(path + "/Package.swift", F_OK) == 0 { return path }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// The whole file as UTF-8 text, or nil when it cannot be read.
    package static func read(_ path: String) -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The names of the entries of a directory of the repository (relative path), sorted.
    package static func list(_ directory: String) -> [String] {
        guard let handle = opendir(root + "/" + directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            // SAFETY: d_name is a NUL-terminated array inside the dirent readdir returned, valid until the
            // next readdir on this handle; it is copied into a String before that.
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
