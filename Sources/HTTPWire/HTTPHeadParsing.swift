/// The parts of a request head: request line, header field, and the checks on the whole head
/// (`Protocols/http.md` §2). Every byte is classified before it becomes part of a string.
extension HTTPHeadDecoder {
    /// `tchar` of RFC 9110 §5.6.2: what a method or a field name is made of.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// A field value's bytes: visible ASCII, blanks, and obs-text (RFC 9110 §5.5); no other control byte.
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
    }

    /// `method SP request-target SP HTTP-version` (RFC 9112 §3), exactly one space between the parts.
    static func parseRequestLine(_ bytes: [UInt8]) -> Result<(method: String, target: String, minor: Int), HTTPRefusal>
    {
        let parts = bytes.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            return .failure(HTTPRefusal(.badRequest, "malformed request line"))
        }
        guard parts[0].allSatisfy(isTokenByte) else { return .failure(HTTPRefusal(.badRequest, "malformed method")) }
        // Origin form only (RFC 9112 §3.2.1): a path and an optional query, visible ASCII.
        guard parts[1].first == UInt8(ascii: "/"), parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(HTTPRefusal(.badRequest, "request target is not an origin-form path"))
        }
        let minor: Int
        switch versionOf(parts[2]) {
        case .success(let value): minor = value
        case .failure(let refusal): return .failure(refusal)
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        guard method == "GET" || method == "HEAD" else {
            return .failure(HTTPRefusal(.methodNotAllowed, "method not allowed"))
        }
        return .success((method, String(decoding: parts[1], as: UTF8.self), minor))
    }

    /// `HTTP/DIGIT.DIGIT`: 1.0 and 1.1 are served, any other well-formed version is 505.
    static func versionOf(_ bytes: ArraySlice<UInt8>) -> Result<Int, HTTPRefusal> {
        let text = Array(bytes)
        let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        guard text.count == 8, text[..<5].elementsEqual("HTTP/".utf8), isDigit(text[5]),
            text[6] == UInt8(ascii: "."), isDigit(text[7])
        else { return .failure(HTTPRefusal(.badRequest, "malformed HTTP version")) }
        guard text[5] == UInt8(ascii: "1"), text[7] <= UInt8(ascii: "1") else {
            return .failure(HTTPRefusal(.versionNotSupported, "only HTTP/1.0 and HTTP/1.1 are served"))
        }
        return .success(Int(text[7] - UInt8(ascii: "0")))
    }

    /// `field-name ":" OWS field-value OWS` (RFC 9112 §5). A line starting with a blank is obsolete line
    /// folding (§5.2), refused; so is a blank between the name and the colon (§5.1).
    static func parseField(_ bytes: [UInt8]) -> Result<(name: String, value: String), HTTPRefusal> {
        if bytes.first == 0x20 || bytes.first == 0x09 {
            return .failure(HTTPRefusal(.badRequest, "obsolete line folding"))
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > 0,
            bytes[..<colon].allSatisfy(isTokenByte)
        else { return .failure(HTTPRefusal(.badRequest, "malformed header field")) }
        var value = bytes[(colon + 1)...]
        guard value.allSatisfy(isFieldValueByte) else {
            return .failure(HTTPRefusal(.badRequest, "control byte in header field value"))
        }
        while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
        while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
        let name = String(decoding: bytes[..<colon], as: UTF8.self).lowercased()
        return .success((name, String(decoding: value, as: UTF8.self)))
    }

    /// The head as a whole: `Host` (exactly one in HTTP/1.1, at most one in 1.0, RFC 9112 §3.2), and no
    /// content: a `Transfer-Encoding` or a `Content-Length` other than 0 is 413 (the listener reads no body).
    static func checkFields(_ head: HTTPRequestHead) -> HTTPRefusal? {
        let hosts = head.values(of: "host").count
        if hosts > 1 || (head.minorVersion == 1 && hosts == 0) {
            return HTTPRefusal(.badRequest, hosts == 0 ? "missing Host" : "more than one Host")
        }
        if !head.values(of: "transfer-encoding").isEmpty {
            return HTTPRefusal(.contentTooLarge, "request content is not accepted")
        }
        let lengths = head.values(of: "content-length")
        guard lengths.count <= 1 else { return HTTPRefusal(.badRequest, "more than one Content-Length") }
        if let length = lengths.first {
            // Checked digit by digit, never converted: only a zero length is accepted.
            guard !length.isEmpty, length.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            else { return HTTPRefusal(.badRequest, "malformed Content-Length") }
            guard length.utf8.allSatisfy({ $0 == UInt8(ascii: "0") }) else {
                return HTTPRefusal(.contentTooLarge, "request content is not accepted")
            }
        }
        return nil
    }
}
