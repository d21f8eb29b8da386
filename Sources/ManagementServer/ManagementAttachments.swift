import DeviceKit
import EventLoop
import GuestWire
import JSON
import Management
import ManagementWire

/// How the `mgmt` partition relays commands (`Protocols/management.md` §2.3): a guest whose partition has
/// `mayManage` opens the `management` device channel; each `CHANNEL_DATA` it sends is one envelope, submitted
/// exactly as `mgmt.submit` submits one (source `guest:PARTITION`), and answered by one `CHANNEL_DATA` with
/// the result. One envelope per loop pass per channel (`ManagementRelayChannel`): each may write the trusted state.
extension ManagementDevice {
    /// The device name guests open.
    static let channelName = "management"
    /// Envelopes a relay channel holds while it takes one per pass (`Protocols/management.md` §2.3).
    static let relayMaxWaitingEnvelopes = 16
    /// Most `relay_busy` answers a channel may owe at once (they go out after the answers before them). An agent
    /// flooding the relay while an envelope's operation runs off the loop for seconds would otherwise be owed one
    /// per envelope of every pass's read, all sent in the pass the operation ends (`Protocols/management.md` §2.3).
    static let relayMaxOwedBusy = 256

    package var channelDeviceNames: [String] { [Self.channelName] }

    package func openChannel(device: String, options: ArraySlice<UInt8>, endpoint: any GuestChannelEndpoint)
        -> Result<any GuestChannel, GuestChannelRefusal>
    {
        guard device == Self.channelName else {
            return .failure(GuestChannelRefusal(code: .noSuchDevice, reason: "no device \(device)"))
        }
        guard host?.configuration.partition(named: endpoint.partition)?.mayManage == true else {
            counters.count("relay_not_permitted")
            return .failure(
                GuestChannelRefusal(code: .notPermitted, reason: "\(endpoint.partition) may not relay (mayManage)"))
        }
        return .success(ManagementRelayChannel(device: self, endpoint: endpoint))
    }
}

/// One open relay channel. It takes one envelope per loop pass: one that arrives while another was taken since the
/// last end of a pass waits, and the oldest waiting one is taken at the end of each pass. At most
/// `relayMaxWaitingEnvelopes` wait; one more is refused `relay_busy`, unverified and unaudited, its answer sent
/// after those of the envelopes before it: a relay has no correlation, so answers go out in the order the
/// envelopes came (a relay that waits for each answer before sending the next never meets the bound). An envelope
/// answered later (its operation's file work runs off the loop) holds the channel: nothing more is taken until its
/// answer is sent.
final class ManagementRelayChannel: GuestChannel {
    private unowned let device: ManagementDevice
    private let endpoint: any GuestChannelEndpoint
    /// Envelopes waiting their turn, each with the `relay_busy` answers owed right after its own.
    private var waiting: [(envelope: [UInt8], busyAfter: Int)] = []
    /// `relay_busy` answers owed and not sent yet, over every envelope (`relayMaxOwedBusy`).
    private var owedBusy = 0
    private var tookSinceLastPassEnd = false
    /// An envelope taken and not yet answered, with the `relay_busy` answers owed right after its own.
    private var running: Int?
    private var isClosed = false
    private var passEnd: EndOfPass?
    private var passEndArmed = false

    init(device: ManagementDevice, endpoint: any GuestChannelEndpoint) {
        self.device = device
        self.endpoint = endpoint
    }

    var maxData: UInt32 { UInt32(ManagementCodec.maxEnvelopeBytes) }
    var openedOptions: [UInt8] { [] }

    func received(_ data: ArraySlice<UInt8>) {
        guard !isClosed else { return }
        // Read nothing more this pass: what this read carried is taken or waits here.
        endpoint.holdInputUntilNextPass()
        if !tookSinceLastPassEnd && waiting.isEmpty && running == nil { return take(data, atPassEnd: false) }
        if waiting.count < ManagementDevice.relayMaxWaitingEnvelopes {
            waiting.append((Array(data), 0))
        } else if owedBusy < ManagementDevice.relayMaxOwedBusy {
            device.counters.count("relay_busy")
            owedBusy += 1
            waiting[waiting.count - 1].busyAfter += 1
        } else {
            // The agent ignores the relay's order (send the next envelope after an answer) by hundreds: the
            // channel is closed rather than owe it an answer per envelope it floods.
            device.counters.count("relay_flooded")
            endpoint.close(
                code: GuestErrorCode.rateLimited.rawValue,
                reason:
                    "management relay flooded: \(ManagementDevice.relayMaxWaitingEnvelopes) envelopes waited and "
                    + "\(ManagementDevice.relayMaxOwedBusy) more were refused relay_busy; send each envelope after "
                    + "the answer to the last")
            closed(reason: "flooded")
        }
    }

    func closed(reason: String) {
        isClosed = true
        waiting.removeAll()
        owedBusy = 0
        passEnd?.close()
        passEnd = nil
        passEndArmed = false
    }

    /// Takes one envelope (or local request). Its answer goes out when it is known, with the `relay_busy` answers
    /// owed after it (`busyAfter`); until then nothing else is taken from the channel: a command whose long work
    /// runs off the loop (`Protocols/management.md` §2.3) holds the envelopes behind it, in order.
    private func take(_ data: ArraySlice<UInt8>, atPassEnd: Bool, busyAfter: Int = 0) {
        tookSinceLastPassEnd = true
        armPassEnd(fromCheckPhase: atPassEnd)
        running = busyAfter
        if ManagementLocalRequest.isLocalRequest(data) {
            return answered(device.localRequest(data, from: endpoint.partition))
        }
        device.submit(data, source: "guest:\(endpoint.partition)") { [weak self] result in
            switch result {
            case .success(let output):
                self?.answered(ManagementRelayResult(code: "accepted", output: output.serialized()))
            case .failure(let refusal):
                self?.answered(ManagementRelayResult(code: refusal.code, detail: refusal.detail))
            }
        }
    }

    /// Sends the answer of the envelope taken last and the `relay_busy` answers owed after it; the next envelope
    /// waiting is taken at the end of a pass.
    private func answered(_ answer: ManagementRelayResult) {
        let busyAfter = running ?? 0
        running = nil
        guard !isClosed else { return }
        owedBusy -= busyAfter
        endpoint.send(answer.encoded())
        if busyAfter > 0 {
            let detail = "more than \(ManagementDevice.relayMaxWaitingEnvelopes) envelopes waited: send after an answer"
            let busy = ManagementRelayResult(code: "relay_busy", detail: detail).encoded()
            for _ in 0..<busyAfter { endpoint.send(busy) }
        }
        // Answered later than the pass it was taken in: the end of the pass takes the next one.
        if !waiting.isEmpty && !tookSinceLastPassEnd { armPassEnd(fromCheckPhase: false) }
    }

    private func passEnded() {
        passEndArmed = false
        tookSinceLastPassEnd = false
        guard !waiting.isEmpty, running == nil, !isClosed else { return }
        let next = waiting.removeFirst()
        take(next.envelope[...], atPassEnd: true, busyAfter: next.busyAfter)
    }

    /// The end of this pass when armed from the check phase (a pass end's own take), else the next pass's: armed
    /// in the poll it would fire at the end of this very pass and take a second envelope in it.
    private func armPassEnd(fromCheckPhase: Bool) {
        guard !passEndArmed else { return }
        if passEnd == nil, let loop = device.host?.loop { passEnd = try? EndOfPass(loop: loop) }
        guard let passEnd else {
            // Without the handle nothing would take the waiting envelopes: take each as it comes.
            tookSinceLastPassEnd = false
            return
        }
        passEndArmed = true
        if fromCheckPhase {
            passEnd.arm { [weak self] in self?.passEnded() }
        } else {
            passEnd.arm { [weak self] in self?.passEnd?.arm { [weak self] in self?.passEnded() } }
        }
    }
}

/// Local requests (`Protocols/management.md` §2.6): the agent reads and resets the partitions' error logs
/// (`Protocols/errorlog.md`) through the hub's own `errors.*` methods, so the management device does not
/// depend on the error-log device. Only these operations: the channel is no way into the rest of the control
/// API. The policy is the channel's own (`mayManage`, checked when it was opened).
extension ManagementDevice {
    /// The operations a local request may name, and the largest page one read may ask for (an answer must fit
    /// in one `CHANNEL_DATA`).
    static let localOperations: Set<String> = ["errors.read", "errors.reset", "errors.status"]
    static let localMaxReadLimit = 100

    func localRequest(_ bytes: ArraySlice<UInt8>, from partition: String) -> ManagementRelayResult {
        let request: JSONObject
        do throws(ManagementWireError) {
            let text = try ManagementLocalRequest.jsonText(bytes)
            guard let parsed = try? JSON.parse(text, maxDepth: 4), let object = parsed.objectValue else {
                return localRefusal("bad_request", "not a JSON object")
            }
            request = object
        } catch {
            return localRefusal("bad_request", "\(error.kind): \(error.detail)")
        }
        guard let operation = request["operation"]?.stringValue, Self.localOperations.contains(operation) else {
            return localRefusal(
                "unknown_operation", "operation must be one of \(Self.localOperations.sorted().joined(separator: ", "))"
            )
        }
        // Checked here, with this channel's range: `errors.read` itself would name the control API's wider one.
        if let limit = request["limit"], !(limit.intValue.map { (1...Self.localMaxReadLimit).contains($0) } ?? false) {
            return localRefusal("bad_request", "limit must be an integer in 1...\(Self.localMaxReadLimit)")
        }
        var params = request
        params["operation"] = nil
        guard let host else { return localRefusal("unavailable", "the hub is shutting down") }
        switch host.callMethod(operation, params: .object(params)) {
        case .success(let result):
            counters.count("local_" + operation)
            return ManagementRelayResult(code: "accepted", output: result.serialized())
        case .failure(let error):
            return localRefusal(error.reason ?? "refused", error.message)
        }
    }

    private func localRefusal(_ code: String, _ detail: String) -> ManagementRelayResult {
        counters.count("local_refused")
        return ManagementRelayResult(code: code, detail: detail)
    }
}
