import DeviceKit
import EventLoop
import HTTPWire

/// One HTTP connection (`Protocols/http.md` §2, §3): it holds a pending admission slot while its request head
/// arrives (at most `httpHandshakeMs`, then 408), an authenticated one while its answer is written (at most
/// `httpResponseMs`, then closed), and serves exactly one request: every answer says `Connection: close`.
final class HTTPConnection {
    private unowned let device: HTTPDevice
    let stream: any ByteStream
    private let slot: AdmissionSlot
    /// The bearer token `/metrics` asks for here (off loopback), or nil.
    private let token: String?
    private var decoder: HTTPHeadDecoder
    private var answered = false
    private var closed = false

    init(device: HTTPDevice, stream: any ByteStream, slot: AdmissionSlot, token: String?) {
        self.device = device
        self.stream = stream
        self.slot = slot
        self.token = token
        decoder = HTTPHeadDecoder(limits: device.headLimits)
    }

    func start() {
        // One bounded read per pass; the decoder refuses a head over its limit as soon as it passes it.
        stream.maxReadBytes = 4096
        stream.onData = { [weak self] bytes in self?.received(bytes) }
        stream.onEnd = { [weak self] _ in self?.close() }
        stream.onWriteError = { [weak self] _ in self?.close() }
        slot.onDeadline = { [weak self] refusal in self?.deadlinePassed(refusal) }
        do {
            try stream.startReading()
        } catch {
            close()
        }
    }

    private func received(_ bytes: ArraySlice<UInt8>) {
        guard !answered else { return }
        switch decoder.feed(bytes) {
        case .incomplete:
            return
        case .refused(let refusal):
            device.counters.refused(refusal.reason)
            respond(refusal.status, HTTPResponse.refusal(refusal, extraHeaders: HTTPConnection.headers(for: refusal)))
        case .complete(let head):
            guard slot.authenticate() else {
                let refusal = HTTPRefusal(.serviceUnavailable, "too many HTTP clients (httpMaxClients)")
                respond(refusal.status, HTTPResponse.refusal(refusal))
                return
            }
            let (status, bytes) = device.answer(head, token: token)
            respond(status, bytes)
        }
    }

    /// A 405 says which methods are served (RFC 9110 §15.5.6).
    private static func headers(for refusal: HTTPRefusal) -> [(String, String)] {
        refusal.status == .methodNotAllowed ? [("Allow", "GET, HEAD")] : []
    }

    private func respond(_ status: HTTPStatus, _ bytes: [UInt8]) {
        answered = true
        stream.stopReading()
        device.counters.answered(status)
        stream.write(bytes)
        stream.closeAfterWrites { [weak self] in self?.finished() }
    }

    private func deadlinePassed(_ refusal: AdmissionRefusal) {
        if refusal == .handshakeTimeout && !answered {
            respond(
                .requestTimeout, HTTPResponse.refusal(HTTPRefusal(.requestTimeout, "request head not received in time"))
            )
        } else {
            // Evicted by a newer connection, or the answer was not read in time.
            close()
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        slot.release()
        stream.close { [weak self] in self?.finished() }
    }

    private func finished() {
        closed = true
        slot.release()
        device.connections[ObjectIdentifier(self)] = nil
    }
}

extension HTTPDevice {
    /// A new connection from a listener: admitted through the gate (refused ones get 503 and are closed).
    func accept(_ stream: any ByteStream, token: String?) {
        guard let gate else {
            stream.close()
            return
        }
        switch gate.admit(stream.kind) {
        case .success(let slot):
            let connection = HTTPConnection(device: self, stream: stream, slot: slot, token: token)
            connections[ObjectIdentifier(connection)] = connection
            connection.start()
        case .failure(let refusal):
            counters.answered(.serviceUnavailable)
            stream.write(HTTPResponse.refusal(HTTPRefusal(.serviceUnavailable, "admission: \(refusal.rawValue)")))
            stream.closeAfterWrites()
        }
    }

    /// The answer to an accepted request head (`Protocols/http.md` §3): its status and bytes.
    func answer(_ head: HTTPRequestHead, token: String?) -> (HTTPStatus, [UInt8]) {
        let headOnly = head.method == "HEAD"
        func text(_ status: HTTPStatus, _ body: String, _ extra: [(String, String)] = []) -> (HTTPStatus, [UInt8]) {
            (status, HTTPResponse.encode(status, body: Array(body.utf8), headOnly: headOnly, extraHeaders: extra))
        }
        switch head.path {
        case "/healthz":
            // Answered by the loop itself: if this is written, the loop is alive.
            return text(.ok, "ok\n")
        case "/readyz":
            return host.isReady ? text(.ok, "ready\n") : text(.serviceUnavailable, "not ready\n")
        case "/metrics":
            if let token, !HTTPDevice.presents(token, in: head) {
                return text(
                    .unauthorized, "401 bearer token required\n", [("WWW-Authenticate", "Bearer realm=\"handsethub\"")])
            }
            let body = currentMetricsText()
            guard body.count <= host.limits.httpMaxResponseBytes else {
                counters.metricsTooLarge += 1
                return text(.internalServerError, "500 metrics over httpMaxResponseBytes\n")
            }
            return (
                .ok,
                HTTPResponse.encode(.ok, contentType: MetricsText.contentType, body: body, headOnly: headOnly)
            )
        default:
            return text(.notFound, "404 not found\n")
        }
    }

    /// Whether `head` carries `Authorization: Bearer <token>`, compared in constant time
    /// (`Protocols/threat-model.md`, control token).
    static func presents(_ token: String, in head: HTTPRequestHead) -> Bool {
        let values = head.values(of: "authorization")
        guard values.count == 1 else { return false }
        let value = Array(values[0].utf8)
        let prefix = Array("Bearer ".utf8)
        guard value.count > prefix.count, value[..<prefix.count].elementsEqual(prefix) else { return false }
        let presented = Array(value[prefix.count...])
        let expected = Array(token.utf8)
        var difference = UInt8(presented.count == expected.count ? 0 : 1)
        for index in 0..<expected.count {
            difference |= expected[index] ^ (index < presented.count ? presented[index] : 0)
        }
        return difference == 0
    }
}
