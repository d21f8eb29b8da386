import Foundation
import Wire

enum RFBVectors {
    static let directory: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url = url.deletingLastPathComponent()
        }
        return url.appendingPathComponent("Protocols/vectors/rfb")
    }()

    struct Missing: Error { var file: String }

    static func text(_ file: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
    }

    static func bytes(_ file: String) throws -> [UInt8] {
        guard let bytes = Hex.decode(try text(file)) else { throw Missing(file: file) }
        return bytes
    }
}
