import GuestWire
import Testing
import Wire

@Suite struct GuestCodecTests {
    @Test func negotiationPicksTheHighestSharedVersion() {
        #expect(GuestProtocol.negotiate(clientMin: 1, clientMax: 3, hubMin: 1, hubMax: 2) == 2)
        #expect(GuestProtocol.negotiate(clientMin: 1, clientMax: 1, hubMin: 1, hubMax: 4) == 1)
        #expect(GuestProtocol.negotiate(clientMin: 3, clientMax: 5, hubMin: 1, hubMax: 2) == nil)
        #expect(GuestProtocol.negotiate(clientMin: 2, clientMax: 1) == nil)
    }

    @Test func transcriptIsHelloBodyThenChallengeBody() {
        let hello = GuestFrame(.hello(GuestHello(partition: "rtos")), requestId: 1)
        let challenge = GuestFrame(
            .challenge(GuestChallenge(version: 1, nonce: Array(repeating: 7, count: 32))), requestId: 1)
        let transcript = GuestProtocol.transcript(
            helloBody: hello.encodeBody(), challengeBody: challenge.encodeBody())
        #expect(transcript == hello.encodeBody() + challenge.encodeBody())
        #expect(transcript.count == 8 + 2 + 2 + 5 + 1 + 1 + 8 + 2 + 32 + 1)
        #expect(Array(transcript.prefix(2)) == [0, 1])
    }

    @Test func unknownTypeKeepsTheRequestIdAndTheStreamGoesOn() throws {
        var decoder = GuestFrameDecoder()
        let unknown: [UInt8] = [0, 0, 0, 8, 0x7f, 0x01, 0, 0, 0, 0, 0, 9]
        let eoi = GuestFrame(.eoi(line: 2)).encode()
        let results = try decoder.feed(unknown + eoi)
        #expect(results.count == 2)
        guard case .failure(let error) = results[0] else {
            Issue.record("unknown type decoded")
            return
        }
        #expect(error.errorCode == .unknownFrameType)
        #expect(error.header == GuestFrameHeader(type: 0x7f01, channel: 0, requestId: 9))
        #expect(try results[1].get() == GuestFrame(.eoi(line: 2)))
    }

    @Test func limitsAreConfigurable() throws {
        var decoder = GuestFrameDecoder(limits: GuestLimits(maxFrameLength: 16, maxNameBytes: 4))
        let raise = GuestFrame(.raise(partition: "linux", line: 1), requestId: 3).encode()
        let result = try decoder.feed(raise)
        #expect(
            result == [
                .failure(
                    GuestDecodeError(
                        header: GuestFrameHeader(type: GuestFrameType.raise.rawValue, channel: 0, requestId: 3),
                        reason: .nameTooLong(field: "partition", length: 5, limit: 4)))
            ])
        let big = GuestFrame(.channelData(ArraySlice(repeating: 0, count: 9)), channel: 1).encode()
        #expect(throws: DecodeError.oversized(length: 17, limit: 16)) { try decoder.feed(big) }
    }

    @Test func payloadsAreSlicesOfTheInput() throws {
        let payload = (0..<200).map { UInt8(truncatingIfNeeded: $0) }
        let frame = GuestFrame(.msgSend(link: 4, correlation: 5, payload: payload[...]), requestId: 1)
        let decoded = try GuestFrame.decode(body: frame.encodeBody()[...]).get()
        #expect(decoded == frame)
        guard case .msgSend(_, _, let slice) = decoded.message else {
            Issue.record("wrong message")
            return
        }
        #expect(slice.startIndex == 20)
    }

    @Test func longReasonsAreCutOnACharacterBoundary() throws {
        let reason = String(repeating: "é", count: 600)  // 1200 bytes
        let frame = GuestFrame(.error(code: .internalError, reason: reason))
        let decoded = try GuestFrame.decode(body: frame.encodeBody()[...]).get()
        guard case .error(let code, let text) = decoded.message else {
            Issue.record("wrong message")
            return
        }
        #expect(code == .internalError)
        #expect(text == String(repeating: "é", count: 512))
    }

    @Test func everyTypeNumberRoundTrips() {
        for type in GuestFrameType.allCases {
            #expect(GuestFrameType(rawValue: type.rawValue) == type)
        }
        #expect(Set(GuestFrameType.allCases.map(\.rawValue)).count == GuestFrameType.allCases.count)
    }
}
