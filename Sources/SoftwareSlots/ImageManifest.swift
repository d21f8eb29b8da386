import JSON

/// The bounds an image is read within (`hub.software`, `Deploy/config-reference.md`).
package struct ImageLimits: Sendable, Equatable {
    package var maxManifestBytes: Int
    package var maxImageBytes: Int
    package var maxImageFiles: Int
    /// Fixed by the format (`Protocols/management.md` §"Images"), not configurable.
    package static let maxPathBytes = 1024
    package static let maxComponentBytes = 255
    package static let maxDepth = 32
    package static let maxLaunchArguments = 64

    package init(maxManifestBytes: Int = 16 << 10, maxImageBytes: Int = 256 << 20, maxImageFiles: Int = 4096) {
        self.maxManifestBytes = maxManifestBytes
        self.maxImageBytes = maxImageBytes
        self.maxImageFiles = maxImageFiles
    }
}

/// An image's `manifest.json` (`Protocols/management.md` §"Images").
package struct ImageManifest: Sendable, Equatable {
    package var name: String
    /// The rollback index: a partition never accepts a version below the highest it accepted, unless a
    /// downgrade is authorised.
    package var version: UInt64
    /// The program (a path inside the bundle) and its arguments.
    package var launch: [String]
    /// SHA-256 of the content listing, lowercase hex.
    package var digest: String

    package static let fileName = "manifest.json"
    package static let maxVersion: UInt64 = (1 << 53) - 1

    /// Parses a manifest's bytes; every refusal is an `ImageError` with its code.
    package static func parse(_ bytes: [UInt8], limits: ImageLimits) -> Result<ImageManifest, ImageError> {
        guard bytes.count <= limits.maxManifestBytes else {
            return .failure(.init(.manifestTooLarge, "\(bytes.count) bytes, limit \(limits.maxManifestBytes)"))
        }
        let json: JSON
        do { json = try JSON.parse(bytes, maxDepth: 4) } catch {
            return .failure(.init(.manifestInvalid, "not JSON: \(error)"))
        }
        guard let object = json.objectValue else { return .failure(.init(.manifestInvalid, "not an object")) }
        for key in object.keys where !["name", "version", "launch", "digest"].contains(key) {
            return .failure(.init(.manifestInvalid, "unknown key \(key)"))
        }
        return fields(json)
    }

    private static func fields(_ json: JSON) -> Result<ImageManifest, ImageError> {
        guard let name = json["name"]?.stringValue, isName(name) else {
            return .failure(.init(.manifestInvalid, "name: 1 to 64 of A-Z a-z 0-9 . _ -, not starting with ."))
        }
        guard let version = json["version"]?.uint64Value, version <= maxVersion else {
            return .failure(.init(.manifestInvalid, "version: an integer 0...\(maxVersion)"))
        }
        guard let digest = json["digest"]?.stringValue, isDigest(digest) else {
            return .failure(.init(.manifestInvalid, "digest: 64 lowercase hex digits"))
        }
        guard let items = json["launch"]?.arrayValue, (1...ImageLimits.maxLaunchArguments).contains(items.count)
        else {
            return .failure(.init(.manifestInvalid, "launch: 1 to \(ImageLimits.maxLaunchArguments) strings"))
        }
        var launch: [String] = []
        for item in items {
            guard let text = item.stringValue, text.utf8.count <= ImageLimits.maxPathBytes,
                !text.utf8.contains(0)
            else { return .failure(.init(.manifestInvalid, "launch: strings of at most 1024 bytes")) }
            launch.append(text)
        }
        if let problem = BundlePath.problem(launch[0]) {
            return .failure(.init(.pathInvalid, "launch[0] \(launch[0]): \(problem)"))
        }
        return .success(ImageManifest(name: name, version: version, launch: launch, digest: digest))
    }

    /// Whether `text` is a software name: 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with `.`. An optional
    /// image's name is a directory's name under `optional/`, so it must be one plain path component: never `.`
    /// or `..` (which would name `optional/` itself or the partition's directory), nor a hidden name like those
    /// the engine stages and removes under (`.incoming-<name>`, `.removing-<name>`).
    package static func isName(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count) && text.utf8.first != UInt8(ascii: ".")
            && text.utf8.allSatisfy {
                isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
            }
    }

    static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64
            && text.utf8.allSatisfy {
                ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                    || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f"))
            }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    package var json: JSON {
        [
            "name": .string(name), "version": .uint(version), "launch": .array(launch.map { .string($0) }),
            "digest": .string(digest),
        ]
    }
}

/// A path inside a bundle, as the listing and the manifest's `launch[0]` spell it.
package enum BundlePath {
    /// Why `path` is not a valid bundle path, or nil: relative, `/`-separated components of 1 to 255 bytes,
    /// none `.` or `..`, no control bytes, at most 1024 bytes and 32 components.
    package static func problem(_ path: String) -> String? {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= ImageLimits.maxPathBytes else { return "length 1...1024" }
        guard bytes.first != UInt8(ascii: "/") else { return "absolute" }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) else { return "control byte" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= ImageLimits.maxDepth else { return "deeper than \(ImageLimits.maxDepth)" }
        for part in parts {
            if part.isEmpty { return "empty component" }
            if part == "." || part == ".." { return "component \(part)" }
            if part.utf8.count > ImageLimits.maxComponentBytes { return "component over 255 bytes" }
        }
        return nil
    }
}

/// Why an image was refused: a stable code (`Protocols/management.md` §"Images") and a detail for people.
package struct ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    package enum Code: String, Sendable {
        case manifestMissing, manifestTooLarge, manifestInvalid, pathInvalid, fileKindRefused, tooManyFiles,
            imageTooLarge, digestMismatch, launchMissing, unreadable, tarInvalid
    }
    package var code: Code
    package var detail: String

    package init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    package var description: String { "\(code.rawValue): \(detail)" }
}
