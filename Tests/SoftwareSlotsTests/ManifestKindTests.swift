import Foundation
import SoftwareSlots
import Testing

/// `manifest.json` must be a regular file (`Protocols/management.md` §"Images", Manifest): a FIFO, a link or a
/// directory in its place is refused with `fileKindRefused` before it is read, and a FIFO without a writer
/// never holds the hub's loop.
@Suite struct ManifestKindTests {
    let scratch = Scratch()
    let host = FakeSlotHost()

    /// The image code an upgrade from a valid bundle whose manifest `replace` swapped is refused with.
    func upgradeRefusal(replacingManifest replace: (String) throws -> Void) throws -> ImageError? {
        let slots = try SoftwareSlots(
            stateDirectory: "\(scratch.root)/state", partitions: ["linux"], settings: SlotSettings(), host: host)
        let image = try scratch.bundle(version: 2)
        let manifest = "\(image.path)/manifest.json"
        try replace(manifest)
        guard
            case .failure(let refusal) = slots.upgrade(
                partition: "linux", bundle: image.path, expectedDigest: image.digest, version: 2)
        else { return nil }
        #expect(refusal.code == .imageInvalid)
        #expect(slots.state(of: "linux")?.active == .configured)
        return refusal.image
    }

    @Test func aFIFOManifestIsRefusedWithoutWaitingForAWriter() throws {
        let started = ContinuousClock.now
        let image = try upgradeRefusal { manifest in
            try FileManager.default.removeItem(atPath: manifest)
            #expect(mkfifo(manifest, 0o600) == 0)
            // Were the engine to wait for a writer, one comes after two seconds, so the test ends (and fails).
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) {
                let fd = open(manifest, O_WRONLY | O_NONBLOCK)
                if fd >= 0 { close(fd) }
            }
        }
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(image?.code == .fileKindRefused, "\(String(describing: image))")
    }

    @Test func aLinkToAValidManifestIsRefused() throws {
        let image = try upgradeRefusal { manifest in
            try FileManager.default.moveItem(atPath: manifest, toPath: "\(manifest).real")
            try FileManager.default.createSymbolicLink(atPath: manifest, withDestinationPath: "manifest.json.real")
        }
        #expect(image?.code == .fileKindRefused, "\(String(describing: image))")
    }

    @Test func aDirectoryManifestIsRefused() throws {
        let image = try upgradeRefusal { manifest in
            try FileManager.default.removeItem(atPath: manifest)
            try FileManager.default.createDirectory(atPath: manifest, withIntermediateDirectories: false)
        }
        #expect(image?.code == .fileKindRefused, "\(String(describing: image))")
    }

    @Test func aSocketManifestIsRefused() throws {
        var bound: Int32 = -1
        let image = try upgradeRefusal { manifest in
            try FileManager.default.removeItem(atPath: manifest)
            bound = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let path = Array(manifest.utf8)
            try #require(path.count < MemoryLayout.size(ofValue: address.sun_path))
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: path)
                raw[path.count] = 0
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(bound, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            #expect(result == 0)
        }
        if bound >= 0 { close(bound) }
        #expect(image?.code == .fileKindRefused, "\(String(describing: image))")
    }
}
