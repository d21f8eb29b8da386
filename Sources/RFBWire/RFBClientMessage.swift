import ScreenGeometry

/// A rectangle in framebuffer coordinates (u16 on the wire): the screen model's rectangle type, shared so
/// damage reaches the encoders unconverted.
package typealias RFBRect = PixelRect

/// One client-to-server message after the handshake (RFC 6143 §7.5).
package enum RFBClientMessage: Sendable, Equatable {
    case setPixelFormat(RFBPixelFormat)
    case setEncodings([Int32])
    case framebufferUpdateRequest(incremental: Bool, RFBRect)
    case keyEvent(down: Bool, keysym: UInt32)
    case pointerEvent(buttonMask: UInt8, x: Int, y: Int)
    /// Latin-1 text; only its length is kept when the text is not wanted.
    case clientCutText([UInt8])
}

/// Bounds for what a client may announce, checked before anything is allocated.
package struct RFBLimits: Sendable, Equatable {
    /// Largest ClientCutText accepted; a larger announcement closes the connection.
    package var maxCutTextBytes: Int
    /// Largest number of encodings in one SetEncodings.
    package var maxEncodings: Int

    package init(maxCutTextBytes: Int = 64 * 1024, maxEncodings: Int = 64) {
        self.maxCutTextBytes = maxCutTextBytes
        self.maxEncodings = maxEncodings
    }
}

/// Splits the client's byte stream into messages; chunking-invariant (bytes may arrive split anywhere).
package struct RFBClientMessageDecoder: Sendable {
    package let limits: RFBLimits
    private var buffer: [UInt8] = []
    private var start = 0

    package init(limits: RFBLimits) {
        self.limits = limits
    }

    /// Bytes buffered but not yet a whole message.
    package var bufferedBytes: Int { buffer.count - start }

    /// Appends `bytes` and returns every whole message now available. A protocol violation throws
    /// (dropping the messages before it in the same call: use `feedUntilViolation` to keep them);
    /// the connection must then be closed (RFB has no error message after the handshake).
    package mutating func feed(_ bytes: ArraySlice<UInt8>) throws(RFBError) -> [RFBClientMessage] {
        let result = feedUntilViolation(bytes)
        if let violation = result.violation { throw violation }
        return result.messages
    }

    /// Appends `bytes` and returns every whole message before the first protocol violation, and the
    /// violation if there was one. The result does not depend on how the stream was split into calls
    /// (found by the RFB fuzzer: `feed` lost a key event that shared a read with a bad message).
    /// After a violation the decoder must not be fed again.
    package mutating func feedUntilViolation(_ bytes: ArraySlice<UInt8>) -> (
        messages: [RFBClientMessage], violation: RFBError?
    ) {
        buffer.append(contentsOf: bytes)
        var messages: [RFBClientMessage] = []
        do throws(RFBError) {
            while let message = try next() { messages.append(message) }
        } catch {
            return (messages, error)
        }
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 16)
            start = 0
        } else if start > 4096 {
            buffer.removeFirst(start)
            start = 0
        }
        return (messages, nil)
    }

    private func u16(_ at: Int) -> Int { Int(buffer[at]) << 8 | Int(buffer[at + 1]) }
    private func u32(_ at: Int) -> UInt32 {
        UInt32(buffer[at]) << 24 | UInt32(buffer[at + 1]) << 16 | UInt32(buffer[at + 2]) << 8 | UInt32(buffer[at + 3])
    }

    private mutating func next() throws(RFBError) -> RFBClientMessage? {
        let available = buffer.count - start
        guard available >= 1 else { return nil }
        let s = start
        switch buffer[s] {
        case 0:
            guard available >= 20 else { return nil }
            let format = RFBPixelFormat.decode(buffer[(s + 4)..<(s + 20)])
            try format.validate()
            start += 20
            return .setPixelFormat(format)
        case 2:
            guard available >= 4 else { return nil }
            let count = u16(s + 2)
            guard count <= limits.maxEncodings else {
                throw .tooLarge("SetEncodings list", value: UInt64(count), limit: limits.maxEncodings)
            }
            guard available >= 4 + 4 * count else { return nil }
            let encodings = (0..<count).map { Int32(bitPattern: u32(s + 4 + 4 * $0)) }
            start += 4 + 4 * count
            return .setEncodings(encodings)
        case 3:
            guard available >= 10 else { return nil }
            let rect = RFBRect(x: u16(s + 2), y: u16(s + 4), width: u16(s + 6), height: u16(s + 8))
            let incremental = buffer[s + 1] != 0
            start += 10
            return .framebufferUpdateRequest(incremental: incremental, rect)
        case 4:
            guard available >= 8 else { return nil }
            let message = RFBClientMessage.keyEvent(down: buffer[s + 1] != 0, keysym: u32(s + 4))
            start += 8
            return message
        case 5:
            guard available >= 6 else { return nil }
            let message = RFBClientMessage.pointerEvent(buttonMask: buffer[s + 1], x: u16(s + 2), y: u16(s + 4))
            start += 6
            return message
        case 6:
            guard available >= 8 else { return nil }
            let length = u32(s + 4)
            // Checked before waiting for (or allocating) the text: a 4 GiB announcement ends here.
            guard length <= limits.maxCutTextBytes else {
                throw .tooLarge("ClientCutText", value: UInt64(length), limit: limits.maxCutTextBytes)
            }
            guard available >= 8 + Int(length) else { return nil }
            let text = Array(buffer[(s + 8)..<(s + 8 + Int(length))])
            start += 8 + Int(length)
            return .clientCutText(text)
        case let type:
            throw .unknownMessage(type)
        }
    }
}
