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
        // Escaping can make the canonical text longer than the original (a DEL byte becomes six, `\u007f`), so
        // it may exceed the limit the original met: the round trip is checked under a limit that fits it, and
        // the original limit refuses it as too large and as nothing else.
        let text = manifest.json.serializedBytes()
        var roomy = limits
        roomy.maxManifestBytes = max(limits.maxManifestBytes, text.count)
        precondition(ImageManifest.parse(text, limits: roomy) == .success(manifest), "manifest round trip changed it")
        if text.count > limits.maxManifestBytes {
            guard case .failure(let refusal) = ImageManifest.parse(text, limits: limits) else {
                preconditionFailure("a canonical manifest over the limit was accepted")
            }
            precondition(refusal.code == .manifestTooLarge, "a long canonical manifest refused as \(refusal.code)")
        }
    }
    let split = bytes.isEmpty ? 0 : Int(bytes[0]) * bytes.count / 256
    precondition(
        read([bytes[...]], limits) == read([bytes[..<split], bytes[split...]], limits), "split changed the result")
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
