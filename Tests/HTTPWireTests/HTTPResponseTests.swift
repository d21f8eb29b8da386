import HTTPWire
import Testing

@Suite struct HTTPResponseTests {
    @Test func anAnswerClosesAndCountsItsBody() {
        let bytes = HTTPResponse.encode(.ok, body: Array("ok\n".utf8))
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n"
                + "Cache-Control: no-store\r\nConnection: close\r\n\r\nok\n")
    }

    @Test func headKeepsTheFieldsAndDropsTheBody() {
        let bytes = HTTPResponse.encode(.ok, body: Array("ok\n".utf8), headOnly: true)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasSuffix("Content-Length: 3\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"))
    }

    @Test func aRefusalSaysItsStatusAndTheHubsReason() {
        let bytes = HTTPResponse.refusal(
            HTTPRefusal(.methodNotAllowed, "method not allowed"), extraHeaders: [("Allow", "GET, HEAD")])
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        #expect(text.contains("\r\nAllow: GET, HEAD\r\n"))
        #expect(text.hasSuffix("\r\n\r\n405 method not allowed\n"))
    }
}
