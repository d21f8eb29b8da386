import Foundation
import HubSystem
import JSON
import SoftwareSlots
import Testing

/// Temporary directories and bundles for the slot tests, removed by `cleanUp`.
final class Scratch {
    let root: String

    init() {
        root = NSTemporaryDirectory() + "slots-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Creates the vector-style entries under `directory`.
    func create(_ entries: [JSON], under directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for entry in entries {
            let path = "\(directory)/\(entry["path"]!.stringValue!)"
            switch entry["type"]!.stringValue! {
            case "dir": try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            case "symlink":
                try FileManager.default.createSymbolicLink(
                    atPath: path, withDestinationPath: entry["target"]!.stringValue!)
            case "fifo": #expect(mkfifo(path, 0o600) == 0)
            default:
                let text = entry["text"]?.stringValue ?? ""
                _ = FileManager.default.createFile(
                    atPath: path, contents: Data(text.utf8),
                    attributes: [.posixPermissions: entry["exec"]?.boolValue == true ? 0o755 : 0o644])
            }
        }
    }

    /// Writes an image bundle: `bin/run` (a shell script with `body`), a data file, and a manifest carrying
    /// its real digest. Returns the bundle path and its digest.
    func bundle(name: String = "guest", version: UInt64, body: String = "exec sleep 1000", data: String = "payload")
        throws -> (path: String, digest: String)
    {
        let path = "\(root)/bundle-\(name)-\(version)-\(UUID().uuidString.prefix(8))"
        try create(
            [
                ["path": "bin", "type": "dir"],
                ["path": "bin/run", "type": "file", "text": .string("#!/bin/sh\n\(body)\n"), "exec": true],
                ["path": "data.txt", "type": "file", "text": .string(data)],
            ], under: path)
        let header = ImageDigest.header(name: name, version: version, launch: ["bin/run"])
        let digest = try ImageDigest.digest(root: path, limits: ImageLimits(), header: header).get().0
        let manifest: JSON = [
            "name": .string(name), "version": .uint(version), "launch": ["bin/run"], "digest": .string(digest),
        ]
        _ = FileManager.default.createFile(atPath: "\(path)/manifest.json", contents: Data(manifest.serializedBytes()))
        return (path, digest)
    }
}

/// The hub as the engine sees it: restarts recorded, events recorded, timers on a manual clock.
final class FakeSlotHost: SlotHost {
    var relaunches: [(partition: String, launch: SlotLaunch?, reason: String)] = []
    var events: [(topic: String, partition: String, data: JSON)] = []
    var now = 0
    private var timers: [(at: Int, body: () -> Void)] = []

    func relaunch(partition: String, launch: SlotLaunch?, reason: String) {
        relaunches.append((partition, launch, reason))
    }

    var failedProbations: [(partition: String, reason: String)] = []

    func failProbation(partition: String, reason: String) { failedProbations.append((partition, reason)) }

    func publish(_ topic: String, partition: String, data: JSON) { events.append((topic, partition, data)) }

    func schedule(afterMilliseconds milliseconds: Int, _ body: @escaping () -> Void) {
        timers.append((now + milliseconds, body))
    }

    /// Moves the clock on and runs the timers that came due.
    func advance(milliseconds: Int) {
        now += milliseconds
        let due = timers.filter { $0.at <= now }
        timers.removeAll { $0.at <= now }
        for timer in due { timer.body() }
    }

    func topics() -> [String] { events.map(\.topic) }
}
