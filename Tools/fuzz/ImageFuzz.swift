// libFuzzer entry for the software image readers (Protocols/management.md, "Images"): arbitrary bytes as a
// manifest (an accepted manifest's JSON parses back to the same manifest, its launch[0] is a bundle path) and as
// a ustar archive, read whole and split at a position taken from the input; both readings must agree, and a
// reader never yields a path that is not a bundle path nor more data than an entry's size.

@_cdecl("LLVMFuzzerTestOneInput")
public func imageFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limits = ImageLimits(maxManifestBytes: 16 << 10, maxImageBytes: 1 << 20, maxImageFiles: 64)
    if case .success(let manifest) = ImageManifest.parse(bytes, limits: limits) {
        precondition(BundlePath.problem(manifest.launch[0]) == nil, "launch[0] is not a bundle path")
        let again = ImageManifest.parse(manifest.json.serializedBytes(), limits: limits)
        precondition(again == .success(manifest), "manifest round trip changed it")
    }
    let split = bytes.isEmpty ? 0 : Int(bytes[0]) * bytes.count / 256
    precondition(read([bytes[...]], limits) == read([bytes[..<split], bytes[split...]], limits), "split changed the result")
    return 0
}

private func read(_ chunks: [ArraySlice<UInt8>], _ limits: ImageLimits) -> String {
    var reader = TarReader(limits: limits)
    var out = ""
    var left: UInt64 = 0
    // Data arrives in pieces that depend on the chunking; a running hash of each file's bytes does not.
    var sum: UInt64 = 0
    do throws(ImageError) {
        for chunk in chunks {
            try reader.feed(chunk) { event in
                switch event {
                case .directory(let path):
                    precondition(BundlePath.problem(path) == nil)
                    out += "D \(path);"
                case .file(let path, let size, _):
                    precondition(BundlePath.problem(path) == nil)
                    left = size
                    out += "F \(path) \(size);"
                case .data(let bytes):
                    precondition(UInt64(bytes.count) <= left, "more data than the entry's size")
                    left -= UInt64(bytes.count)
                    sum = bytes.reduce(sum) { $0 &* 31 &+ UInt64($1) }
                case .fileEnd:
                    precondition(left == 0)
                    out += "\(sum);"
                    sum = 0
                }
            }
        }
        try reader.finish()
    } catch { return out + "error \(error.code)" }
    return out
}
