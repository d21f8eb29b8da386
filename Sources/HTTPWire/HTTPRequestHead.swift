/// The HTTP/1.1 request head the hub's HTTP listener accepts (`Protocols/http.md` §2): a request line and
/// header fields, CRLF only, no obsolete line folding, no content. Pure: no I/O, no clock.

/// A response status the listener sends (`Protocols/http.md` §3).
package enum HTTPStatus: Int, Sendable, CaseIterable {
    case ok = 200
    case badRequest = 400
    case unauthorized = 401
    case notFound = 404
    case methodNotAllowed = 405
    case requestTimeout = 408
    case contentTooLarge = 413
    case uriTooLong = 414
    case headerFieldsTooLarge = 431
    case internalServerError = 500
    case serviceUnavailable = 503
    case versionNotSupported = 505

    /// The reason phrase of RFC 9110 §15.
    package var reason: String {
        switch self {
        case .ok: return "OK"
        case .badRequest: return "Bad Request"
        case .unauthorized: return "Unauthorized"
        case .notFound: return "Not Found"
        case .methodNotAllowed: return "Method Not Allowed"
        case .requestTimeout: return "Request Timeout"
        case .contentTooLarge: return "Content Too Large"
        case .uriTooLong: return "URI Too Long"
        case .headerFieldsTooLarge: return "Request Header Fields Too Large"
        case .internalServerError: return "Internal Server Error"
        case .serviceUnavailable: return "Service Unavailable"
        case .versionNotSupported: return "HTTP Version Not Supported"
        }
    }
}

/// A request head the decoder accepted.
package struct HTTPRequestHead: Equatable, Sendable {
    /// `GET` or `HEAD` (other methods are refused with 405 as soon as the request line is complete).
    package var method: String
    /// The origin-form target as sent (`/metrics?x`), at most `maxRequestLineBytes` long.
    package var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    package var minorVersion: Int
    /// Header fields in order, names lowercased, values with surrounding blanks removed.
    package var headers: [(name: String, value: String)]

    package init(method: String, target: String, minorVersion: Int, headers: [(name: String, value: String)]) {
        self.method = method
        self.target = target
        self.minorVersion = minorVersion
        self.headers = headers
    }

    /// The path part of the target (before any `?`).
    package var path: Substring { target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0] }

    /// Values of the header `name` (lowercase), in order.
    package func values(of name: String) -> [String] { headers.filter { $0.name == name }.map(\.value) }

    package static func == (lhs: HTTPRequestHead, rhs: HTTPRequestHead) -> Bool {
        lhs.method == rhs.method && lhs.target == rhs.target && lhs.minorVersion == rhs.minorVersion
            && lhs.headers.map(\.name) == rhs.headers.map(\.name)
            && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }
}

/// Why a request head was refused: the status to answer with and a short reason for logs and counters.
package struct HTTPRefusal: Error, Equatable, Sendable {
    package var status: HTTPStatus
    package var reason: String

    package init(_ status: HTTPStatus, _ reason: String) {
        self.status = status
        self.reason = reason
    }
}

/// The decoder's bounds (`hub.limits`: `httpMaxRequestHeadBytes`, `httpMaxRequestLineBytes`, `httpMaxHeaders`).
package struct HTTPHeadLimits: Equatable, Sendable {
    /// Bytes of the whole head, request line and final empty line included.
    package var maxHeadBytes: Int
    /// Bytes of the request line, CRLF excluded.
    package var maxRequestLineBytes: Int
    /// Header fields.
    package var maxHeaders: Int

    package init(maxHeadBytes: Int = 8192, maxRequestLineBytes: Int = 2048, maxHeaders: Int = 32) {
        self.maxHeadBytes = maxHeadBytes
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaders = maxHeaders
    }
}

/// What one `feed` leaves the decoder with.
package enum HTTPHeadProgress: Equatable, Sendable {
    /// The head is not complete yet.
    case incomplete
    /// The head is complete; bytes after it (there should be none) are ignored.
    case complete(HTTPRequestHead)
    /// The head was refused; the listener answers with `status` and closes.
    case refused(HTTPRefusal)
}

/// Assembles one request head from the bytes of a stream, however they are split (`Protocols/http.md` §2).
///
/// Every limit is checked on each byte as it arrives, so a peer can never make the decoder hold more than
/// `maxHeadBytes`, and the outcome depends only on the bytes, not on how reads cut them. Once complete or
/// refused, the decoder keeps that outcome and reads nothing more.
package struct HTTPHeadDecoder {
    package let limits: HTTPHeadLimits
    private var line: [UInt8] = []
    private var headBytes = 0
    private var sawCR = false
    private var requestLine: (method: String, target: String, minor: Int)?
    private var headers: [(name: String, value: String)] = []
    package private(set) var progress = HTTPHeadProgress.incomplete

    package init(limits: HTTPHeadLimits = HTTPHeadLimits()) {
        self.limits = limits
    }

    /// Feeds the next bytes of the stream.
    @discardableResult
    package mutating func feed(_ bytes: ArraySlice<UInt8>) -> HTTPHeadProgress {
        for byte in bytes {
            guard case .incomplete = progress else { break }
            if let refusal = take(byte) { progress = .refused(refusal) }
        }
        return progress
    }

    private mutating func take(_ byte: UInt8) -> HTTPRefusal? {
        headBytes += 1
        // Every byte counts, the LF that ends a line (and the head) too.
        if headBytes > limits.maxHeadBytes {
            return HTTPRefusal(.headerFieldsTooLarge, "request head over \(limits.maxHeadBytes) bytes")
        }
        if sawCR {
            guard byte == 0x0A else { return HTTPRefusal(.badRequest, "CR not followed by LF") }
            sawCR = false
            return endOfLine()
        }
        switch byte {
        case 0x0D:
            sawCR = true
        case 0x0A:
            return HTTPRefusal(.badRequest, "LF without CR")
        default:
            line.append(byte)
        }
        if requestLine == nil && line.count > limits.maxRequestLineBytes {
            return HTTPRefusal(.uriTooLong, "request line over \(limits.maxRequestLineBytes) bytes")
        }
        return nil
    }

    private mutating func endOfLine() -> HTTPRefusal? {
        let bytes = line
        line.removeAll(keepingCapacity: true)
        guard let request = requestLine else {
            switch HTTPHeadDecoder.parseRequestLine(bytes) {
            case .success(let parsed): requestLine = parsed
            case .failure(let refusal): return refusal
            }
            return nil
        }
        if bytes.isEmpty {
            return finish(request)
        }
        guard headers.count < limits.maxHeaders else {
            return HTTPRefusal(.headerFieldsTooLarge, "more than \(limits.maxHeaders) header fields")
        }
        switch HTTPHeadDecoder.parseField(bytes) {
        case .success(let field): headers.append(field)
        case .failure(let refusal): return refusal
        }
        return nil
    }

    private mutating func finish(_ request: (method: String, target: String, minor: Int)) -> HTTPRefusal? {
        let head = HTTPRequestHead(
            method: request.method, target: request.target, minorVersion: request.minor, headers: headers)
        if let refusal = HTTPHeadDecoder.checkFields(head) { return refusal }
        progress = .complete(head)
        return nil
    }
}
