import Foundation
import JSON
import SoftwareSlots
import Testing
import VectorSupport

/// The manifests and bundles of `Protocols/vectors/management/images.vectors` (`Protocols/management.md`
/// §"Images"): every valid one parses or digests to the vector's value, every hostile one is refused with the
/// vector's code.
@Suite struct ImageVectorTests {
    static let vectors = try! VectorSet("management/images.vectors")

    @Test(arguments: vectors.vectors.filter { $0["manifest"] != nil })
    func manifests(vector: TestVector) throws {
        let repeatCount = Int(vector["repeat"] ?? "1") ?? 1
        let text = String(repeating: try vector.text("manifest"), count: repeatCount)
        let result = ImageManifest.parse(Array(text.utf8), limits: ImageLimits())
        if let code = vector["error"] {
            guard case .failure(let error) = result else {
                Issue.record("\(vector.name): accepted")
                return
            }
            #expect(error.code.rawValue == code, "\(vector.name): \(error)")
        } else {
            let parsed = try result.get()
            #expect(parsed.json == (try JSON.parse(try vector.text("expect"))), "\(vector.name)")
        }
    }

    @Test(arguments: vectors.vectors.filter { $0["files"] != nil })
    func bundles(vector: TestVector) throws {
        let scratch = Scratch()
        let root = "\(scratch.root)/bundle"
        try scratch.create(try JSON.parse(try vector.text("files")).arrayValue ?? [], under: root)
        let image = try JSON.parse(try vector.text("image"))
        let header = ImageDigest.header(
            name: image["name"]?.stringValue ?? "", version: image["version"]?.uint64Value ?? 0,
            launch: image["launch"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        let result = ImageDigest.digest(root: root, limits: ImageLimits(), header: header)
        if let code = vector["error"] {
            guard case .failure(let error) = result else {
                Issue.record("\(vector.name): accepted")
                return
            }
            #expect(error.code.rawValue == code, "\(vector.name): \(error)")
        } else {
            let (digest, entries) = try result.get()
            #expect(header + ImageDigest.listing(entries) == (try JSON.parse(try vector.text("listing"))).stringValue)
            #expect(digest == (try vector.text("expect")))
        }
    }

    @Test func bundleLimitsRefuseBeforeReadingEverything() throws {
        let scratch = Scratch()
        let root = "\(scratch.root)/many"
        let entries: [JSON] = (0..<20).map { ["path": .string("f\($0)"), "type": "file", "text": "x"] }
        try scratch.create(entries, under: root)
        let few = ImageLimits(maxManifestBytes: 1024, maxImageBytes: 1 << 20, maxImageFiles: 10)
        #expect(throws: ImageError.self) { try ImageDigest.digest(root: root, limits: few, header: "").get() }
        if case .failure(let error) = ImageDigest.digest(root: root, limits: few, header: "") {
            #expect(error.code == .tooManyFiles)
        }
        let small = ImageLimits(maxManifestBytes: 1024, maxImageBytes: 10, maxImageFiles: 100)
        if case .failure(let error) = ImageDigest.digest(root: root, limits: small, header: "") {
            #expect(error.code == .imageTooLarge)
        } else {
            Issue.record("20 bytes accepted under a 10-byte limit")
        }
    }
}
