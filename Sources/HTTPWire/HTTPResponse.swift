/// The responses the listener writes (`Protocols/http.md` §3): a status line, a fixed set of header fields,
/// `Content-Length`, `Connection: close` (one request per connection), and the body (none for `HEAD`).
package enum HTTPResponse {
    /// The bytes of a response with `status` and `body`. `headOnly` answers a `HEAD` request: the same header
    /// fields, no body. `extraHeaders` are written as given (names and values the hub chose, never a peer's).
    package static func encode(
        _ status: HTTPStatus, contentType: String = "text/plain; charset=utf-8", body: [UInt8],
        headOnly: Bool = false, extraHeaders: [(String, String)] = []
    ) -> [UInt8] {
        var head = "HTTP/1.1 \(status.rawValue) \(status.reason)\r\n"
        head += "Content-Type: \(contentType)\r\n"
        head += "Content-Length: \(body.count)\r\n"
        head += "Cache-Control: no-store\r\n"
        for (name, value) in extraHeaders { head += "\(name): \(value)\r\n" }
        head += "Connection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if !headOnly { bytes += body }
        return bytes
    }

    /// A refusal: the status and its reason as a one-line text body.
    package static func refusal(_ refusal: HTTPRefusal, headOnly: Bool = false, extraHeaders: [(String, String)] = [])
        -> [UInt8]
    {
        encode(
            refusal.status, body: Array("\(refusal.status.rawValue) \(refusal.reason)\n".utf8), headOnly: headOnly,
            extraHeaders: extraHeaders)
    }
}
