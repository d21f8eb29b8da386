import Foundation
import Wire

/// Loads `Protocols/vectors/ethernet/*.hex` from the repository.
enum Vectors {
    static let directory: URL = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
            url = url.deletingLastPathComponent()
        }
        return url.appendingPathComponent("Protocols/vectors/ethernet")
    }()

    struct NotHex: Error { let file: String }

    static func bytes(_ file: String) throws -> [UInt8] {
        let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
        guard let bytes = Hex.decode(text) else { throw NotHex(file: file) }
        return bytes
    }
}
