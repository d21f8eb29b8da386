import ControlWire
import DeviceKit
import Glibc
import GuestWire
import JSON

/// An in-memory `GuestChannelEndpoint`: plays the guest at the other end of a device channel. What the device
/// sends is recorded; `isCongested` and `isOpen` are set by the test.
package final class FakeChannelEndpoint: GuestChannelEndpoint {
    package let partition: String
    package let channel: UInt16
    package var isOpen = true
    package var isCongested = false
    package var passesDescriptors = false
    /// `CHANNEL_DATA` payloads the device sent, oldest first.
    package private(set) var sent: [[UInt8]] = []
    /// `ERROR` frames the device sent on the channel.
    package private(set) var errors: [(code: GuestErrorCode, reason: String)] = []
    /// Set when the device closed the channel.
    package private(set) var closedWith: (code: UInt16, reason: String)?
    /// How often the device asked the guest's input to wait for the next pass.
    package private(set) var holds = 0

    package init(partition: String, channel: UInt16 = 1) {
        self.partition = partition
        self.channel = channel
    }

    package func holdInputUntilNextPass() { holds += 1 }

    @discardableResult
    package func send(_ data: ArraySlice<UInt8>) -> Bool {
        guard isOpen else { return false }
        sent.append(Array(data))
        return true
    }

    @discardableResult
    package func send(_ data: [UInt8], passingOwned descriptor: Int32) -> Bool {
        // The fake keeps no descriptor: it closes what it is given, as the real endpoint does once sent.
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        guard isOpen, passesDescriptors else { return false }
        sent.append(data)
        return true
    }

    package func sendError(_ code: GuestErrorCode, reason: String) { errors.append((code, reason)) }

    package func close(code: UInt16, reason: String) {
        isOpen = false
        closedWith = (code, reason)
    }

    /// Takes the payloads sent so far.
    package func takeSent() -> [[UInt8]] {
        defer { sent.removeAll() }
        return sent
    }
}

/// A control client for handler tests: calls made with `call(_:_:)` go to a handler, answers are recorded.
package final class FakeControlCaller: ControlCaller {
    package let callerDescription = "test"
    /// Answers in the order they were given.
    package private(set) var answers: [ControlResponse] = []
    private var nextID: Int64 = 1
    /// Calls not answered yet, so they can be cancelled as a closing session would.
    private var open: [ControlCall] = []

    package init() {}

    package func answered(_ call: ControlCall, with response: ControlResponse) {
        open.removeAll { $0 === call }
        answers.append(response)
    }

    /// Makes a call of `method` with `params`; the caller keeps it until it is answered.
    package func makeCall(_ method: String, _ params: JSON? = nil) -> ControlCall {
        let call = ControlCall(id: .int(nextID), method: method, params: params, caller: self)
        nextID += 1
        open.append(call)
        return call
    }

    /// Runs `method`'s handler from `methods` with `params` as a session would: an immediate answer is
    /// recorded at once, a deferred one when it comes. Returns the immediate reply.
    @discardableResult
    package func call(_ methods: [ControlMethod], _ method: String, _ params: JSON? = nil) -> ControlReply {
        let call = makeCall(method, params)
        guard let entry = methods.first(where: { $0.name == method }) else {
            let reply = ControlReply.error(.methodNotFound(method))
            call.reply(reply)
            return reply
        }
        let reply: ControlReply
        do {
            reply = try entry.handler(call)
        } catch {
            reply = .error(error)
        }
        call.reply(reply)
        return reply
    }

    /// The caller disconnects: every open call is told (its waits cancel themselves).
    package func disconnect() {
        let calls = open
        open.removeAll()
        for call in calls { call.callerClosed() }
    }

    /// Takes the answers so far.
    package func takeAnswers() -> [ControlResponse] {
        defer { answers.removeAll() }
        return answers
    }
}
