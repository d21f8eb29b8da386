import Foundation
import JSON
import SoftwareSlots
import Testing
import VectorSupport

/// Tar bundles (`Protocols/vectors/management/images.vectors`, `tar-*`): each unpacks to the vector's image,
/// or is refused with its code, and the reader gives the same result however the archive is split.
@Suite struct TarVectorTests {
    static let vectors = try! VectorSet("management/images.vectors")

    @Test(arguments: vectors.vectors.filter { $0["tar"] != nil })
    func tarBundles(vector: TestVector) throws {
        let scratch = Scratch()
        let archive = "\(scratch.root)/bundle.tar"
        try Data(try vector.bytes("tar")).write(to: URL(fileURLWithPath: archive))
        let target = "\(scratch.root)/unpacked"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let failure = try TarWriter.unpack(archive, into: target, limits: ImageLimits())
        if let code = vector["error"] {
            #expect(failure?.code.rawValue == code, "\(vector.name): \(String(describing: failure))")
            return
        }
        #expect(failure == nil, "\(vector.name): \(String(describing: failure))")
        let image = try JSON.parse(try vector.text("image"))
        let header = ImageDigest.header(
            name: image["name"]?.stringValue ?? "", version: image["version"]?.uint64Value ?? 0,
            launch: image["launch"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        let digest = try ImageDigest.digest(root: target, limits: ImageLimits(), header: header).get().0
        #expect(digest == (try vector.text("expect")), "\(vector.name)")
    }

    /// Whole, a byte at a time and in two at every position: the same entries, the same bytes, the same refusal.
    @Test(arguments: vectors.vectors.filter { $0["tar"] != nil })
    func chunkingDoesNotMatter(vector: TestVector) throws {
        let bytes = try vector.bytes("tar")
        let whole = Self.read([bytes[...]])
        #expect(Self.read(bytes.indices.map { bytes[$0...$0] }) == whole, "\(vector.name) byte at a time")
        for split in stride(from: 1, to: bytes.count, by: 97) {
            #expect(Self.read([bytes[..<split], bytes[split...]]) == whole, "\(vector.name) split at \(split)")
        }
    }

    /// The files and directories a reader yields (data joined per file), or its refusal.
    static func read(_ chunks: [ArraySlice<UInt8>]) -> String {
        var reader = TarReader(limits: ImageLimits())
        var out = ""
        do throws(ImageError) {
            for chunk in chunks {
                try reader.feed(chunk) { event in
                    switch event {
                    case .directory(let path): out += "D \(path)\n"
                    case .file(let path, let size, let executable): out += "F \(path) \(size) \(executable) "
                    case .data(let bytes): out += bytes.map { String($0, radix: 16) }.joined()
                    case .fileEnd: out += "\n"
                    }
                }
            }
            try reader.finish()
        } catch { return "error \(error.code)" }
        return out
    }

    @Test func anUpgradeFromATarIsTheSameImageAsFromItsDirectory() throws {
        let scratch = Scratch()
        let host = FakeSlotHost()
        let slots = try SoftwareSlots(
            stateDirectory: "\(scratch.root)/state", partitions: ["linux"], settings: SlotSettings(), host: host)
        let image = try scratch.bundle(version: 2)
        let archive = "\(scratch.root)/v2.tar"
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["--format=ustar", "-cf", archive, "-C", image.path, "."]
        try tar.run()
        tar.waitUntilExit()
        #expect(tar.terminationStatus == 0)
        let report = try slots.upgrade(partition: "linux", bundle: archive, expectedDigest: image.digest, version: 2)
            .get()
        #expect(report.active == .a && report.version == 2)
        #expect(FileManager.default.isExecutableFile(atPath: "\(scratch.root)/state/software/linux/slot-a/bin/run"))
    }
}
