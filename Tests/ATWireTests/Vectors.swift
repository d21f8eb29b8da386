import Foundation

/// Loads `Protocols/vectors/modem/<name>` from the repository root found above this file.
func vectorLines(_ name: String) throws -> [String] {
    var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
        url = url.deletingLastPathComponent()
    }
    let text = try String(
        contentsOf: url.appendingPathComponent("Protocols/vectors/modem/\(name)"), encoding: .utf8)
    return text.split(separator: "\n").map(String.init).filter {
        !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#")
    }
}

/// Expands `\r`, `\n`, `\xHH` into bytes.
func unescape(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    let bytes = Array(text.utf8)
    var index = 0
    while index < bytes.count {
        if bytes[index] == UInt8(ascii: "\\"), index + 1 < bytes.count {
            switch bytes[index + 1] {
            case UInt8(ascii: "r"):
                out.append(0x0D)
                index += 2
                continue
            case UInt8(ascii: "n"):
                out.append(0x0A)
                index += 2
                continue
            case UInt8(ascii: "x"):
                let hex = String(decoding: bytes[index + 2..<index + 4], as: UTF8.self)
                out.append(UInt8(hex, radix: 16)!)
                index += 4
                continue
            default: break
            }
        }
        out.append(bytes[index])
        index += 1
    }
    return out
}
