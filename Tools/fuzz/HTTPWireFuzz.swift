// libFuzzer entry for the HTTP listener's codec (Protocols/http.md): the request head decoder and the
// exposition writer. Built by run-http-fuzz.sh together with the HTTPWire sources as one module, so no
// `import` of them is needed here.
//
// Properties checked beyond "does not crash": the decoder gives the same outcome under a split derived from
// the input as whole; it decides within its head limit; an accepted head only has GET or HEAD, an
// origin-form target and at most the configured number of fields; any label value a peer could choose stays
// one sample line in the exposition text.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // SAFETY: libFuzzer guarantees `data` points at `size` readable bytes for the duration of the call.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    let limits = HTTPHeadLimits(
        maxHeadBytes: 256 + Int(selector) * 4, maxRequestLineBytes: 64 + Int(selector),
        maxHeaders: 1 + Int(selector % 8))

    var whole = HTTPHeadDecoder(limits: limits)
    let expected = whole.feed(input[...])
    var split = HTTPHeadDecoder(limits: limits)
    let cut = input.isEmpty ? 0 : Int(selector) % (input.count + 1)
    split.feed(input[..<cut])
    let got = split.feed(input[cut...])
    if got != expected { fatalError("chunking changed the result at \(cut): \(expected) vs \(got)") }
    if case .incomplete = expected, input.count > limits.maxHeadBytes {
        fatalError("undecided after \(input.count) bytes, over the head limit \(limits.maxHeadBytes)")
    }
    if case .complete(let head) = expected {
        guard head.method == "GET" || head.method == "HEAD", head.target.hasPrefix("/"),
            head.headers.count <= limits.maxHeaders
        else { fatalError("accepted a head outside Protocols/http.md §2: \(head)") }
        _ = HTTPResponse.encode(.ok, body: Array(head.target.utf8), headOnly: head.method == "HEAD")
    }

    var text = MetricsText()
    text.add(
        "fuzz_value", .gauge, String(decoding: input, as: UTF8.self),
        labels: [("v", String(decoding: input, as: UTF8.self))], 1)
    let lines = text.encode().split(separator: 0x0A, omittingEmptySubsequences: false)
    if lines.count != 4 { fatalError("a label value or help text broke out of its line: \(lines.count) lines") }
    return 0
}
