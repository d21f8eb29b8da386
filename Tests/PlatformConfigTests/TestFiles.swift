import PlatformConfig
import PlatformConfigLoader
import Testing

/// Locates files of the repository (examples) from this source file's path.
enum TestFiles {
    static let repositoryRoot: String = {
        var directory = String(#filePath)
        while let slash = directory.lastIndex(of: "/") {
            directory = String(directory[..<slash])
            if fileExists(directory + "/Package.swift") {
                return directory
            }
        }
        fatalError("no Package.swift above \(#filePath)")
    }()

    static func example(_ name: String) -> String {
        repositoryRoot + "/Deploy/examples/" + name
    }

    static func fileExists(_ path: String) -> Bool {
        (try? readText(path)) != nil
    }

    static func readText(_ path: String) throws -> String {
        guard let file = fopen(path, "r") else { throw CError.open(path) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    enum CError: Error { case open(String) }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Loads `yaml` expecting failure, returning the issues as `path: reason` lines.
func issues(_ yaml: String) -> [String] {
    do {
        _ = try PlatformConfiguration.load(yaml: yaml)
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

/// A valid two-partition configuration that tests mutate one line at a time.
let baseYAML = """
    platform:
      name: test
    partitions:
      - name: a
        class: real-time
        priority: 0
        memoryBytes: 1MiB
        secret: a-secret
        mayInterrupt: [b]
        mayMessage: [b]
        devices:
          - {device: fb0, access: shared}
          - {device: lan0, access: shared}
          - {device: modem0, access: dedicated}
      - name: b
        class: fair-share
        priority: 8
        memoryBytes: 1MiB
        secret: b-secret
        devices:
          - {device: fb0, access: shared}
    links:
      - {name: ab, a: a, b: b}
    regions:
      - name: r
        sizeBytes: 4KiB
        grants:
          - {partition: a, access: rw}
          - {partition: b, access: ro}
        doorbellLine: 3
    devices:
      ethernet:
        - name: lan0
          ports:
            - {name: p0, partition: a}
      modems:
        - {name: modem0, owner: a, backend: builtin}
      framebuffers:
        - {name: fb0, width: 320, height: 240}
    """
