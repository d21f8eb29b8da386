/// The payload of one guest frame, one case per frame type (`Protocols/guest.md` §5–§10).
///
/// Byte runs are slices of the received buffer so decoding copies nothing but small fields.
public enum GuestMessage: Sendable, Equatable {
    // §5 handshake and generic answers
    case hello(GuestHello)
    case challenge(GuestChallenge)
    /// HMAC-SHA256 over the transcript (32 bytes).
    case proof(mac: [UInt8])
    case welcome(GuestWelcome)
    case error(code: GuestErrorCode, reason: String)
    case ok
    // §6 interrupts
    case raise(partition: String, line: UInt16)
    case raiseResult(GuestRaiseOutcome)
    case irq(line: UInt16, priority: UInt8, coalesced: UInt32)
    case eoi(line: UInt16)
    case mask(line: UInt16)
    case unmask(line: UInt16)
    case setPriority(line: UInt16, priority: UInt8)
    case timerSet(line: UInt16, firstDelayMicros: UInt64, periodMicros: UInt64)
    case timerCancel(line: UInt16)
    // §7 messaging
    case msgSend(link: UInt32, correlation: UInt64, payload: ArraySlice<UInt8>)
    case msgSent(link: UInt32, messageId: UInt64, status: GuestSendStatus)
    case msgDeliver(GuestDelivery)
    case msgAck(link: UInt32, upTo: UInt64)
    case credit(link: UInt32, credit: UInt32)
    case linkOpen(name: String, peer: String, maxMessage: UInt32, depth: UInt32)
    case linkOpened(GuestLinkOpened)
    case linkClose(link: UInt32)
    case linkClosed(link: UInt32, state: GuestLinkState, held: UInt32)
    /// `MSG_SEND_SEQ` (§7.10): `MSG_SEND` with the sender's sequence number (≥ 1) on the link.
    case msgSendSequenced(link: UInt32, sequence: UInt64, correlation: UInt64, payload: ArraySlice<UInt8>)
    /// `SEND_SEQUENCES` (§7.11): the last sequence the hub accepted on each listed link, this end sending.
    case sendSequences([GuestSendSequence])
    /// `MSG_SEND_AS` (§7.12): `MSG_SEND` on behalf of `identity`, which the sending partition asserts.
    case msgSendAs(link: UInt32, correlation: UInt64, identity: String, payload: ArraySlice<UInt8>)
    /// `MSG_DELIVER_AS` (§7.12): `MSG_DELIVER` with the identity the hub stamped beside the sender.
    case msgDeliverAs(GuestDelivery, identity: String)
    // §8 memory
    case regionRead(region: UInt32, offset: UInt64, length: UInt32)
    case regionData(region: UInt32, offset: UInt64, bytes: ArraySlice<UInt8>)
    case regionWrite(region: UInt32, offset: UInt64, bytes: ArraySlice<UInt8>)
    case regionResult(region: UInt32, status: GuestRegionStatus)
    case regionFD(region: UInt32, access: GuestRegionAccess, size: UInt64)
    // §9 liveness
    case heartbeat(stamp: UInt64)
    case heartbeatAck(stamp: UInt64)
    case suspend(reason: String)
    case resume
    case detach(reason: String)
    case markGood
    /// `ERROR_REPORT` (§9.5): an entry for the partition's error log; `code` is a name, `text` a text.
    case errorReport(severity: GuestErrorSeverity, code: String, text: String)
    // Protocols/power.md (feature `power`)
    case powerState(GuestPowerState)
    case wakeLock(held: Bool, name: String)
    /// The hub woke the partition (it had declared `idle` or `suspended`); `line` is the interrupt that woke it,
    /// `GuestProtocol.noLine` for none.
    case wake(source: String, line: UInt16, from: GuestPowerState)
    case partitionControl(action: GuestPartitionAction, partition: String, reason: String)
    case partitionControlResult(partition: String, action: GuestPartitionAction, status: GuestPartitionControlStatus)
    case powerQuery
    case powerInfo(GuestPowerInfo)
    /// `POLICY_ACTIVATE` (§9.6, `Protocols/policy.md` §5): switch to profile `profile` (empty: the base policy).
    case policyActivate(profile: String)
    /// `POLICY_CHANGED` (§9.7): the policy in force is now `profile` (empty: the base policy); `summary` says what
    /// changed for the receiving partition.
    case policyChanged(generation: UInt64, profile: String, summary: String)
    // §10 device channels
    case channelOpen(device: String, options: ArraySlice<UInt8>)
    case channelOpened(maxData: UInt32, options: ArraySlice<UInt8>)
    case channelData(ArraySlice<UInt8>)
    case channelClose(code: UInt16, reason: String)

    /// The frame type this message is sent as.
    public var type: GuestFrameType {
        switch self {
        case .hello: return .hello
        case .challenge: return .challenge
        case .proof: return .proof
        case .welcome: return .welcome
        case .error: return .error
        case .ok: return .ok
        case .raise: return .raise
        case .raiseResult: return .raiseResult
        case .irq: return .irq
        case .eoi: return .eoi
        case .mask: return .mask
        case .unmask: return .unmask
        case .setPriority: return .setPriority
        case .timerSet: return .timerSet
        case .timerCancel: return .timerCancel
        case .msgSend: return .msgSend
        case .msgSent: return .msgSent
        case .msgDeliver: return .msgDeliver
        case .msgAck: return .msgAck
        case .credit: return .credit
        case .linkOpen: return .linkOpen
        case .linkOpened: return .linkOpened
        case .linkClose: return .linkClose
        case .linkClosed: return .linkClosed
        case .msgSendSequenced: return .msgSendSequenced
        case .sendSequences: return .sendSequences
        case .msgSendAs: return .msgSendAs
        case .msgDeliverAs: return .msgDeliverAs
        case .regionRead: return .regionRead
        case .regionData: return .regionData
        case .regionWrite: return .regionWrite
        case .regionResult: return .regionResult
        case .regionFD: return .regionFD
        case .heartbeat: return .heartbeat
        case .heartbeatAck: return .heartbeatAck
        case .suspend: return .suspend
        case .resume: return .resume
        case .detach: return .detach
        case .markGood: return .markGood
        case .errorReport: return .errorReport
        case .powerState: return .powerState
        case .wakeLock: return .wakeLock
        case .wake: return .wake
        case .partitionControl: return .partitionControl
        case .partitionControlResult: return .partitionControlResult
        case .powerQuery: return .powerQuery
        case .powerInfo: return .powerInfo
        case .policyActivate: return .policyActivate
        case .policyChanged: return .policyChanged
        case .channelOpen: return .channelOpen
        case .channelOpened: return .channelOpened
        case .channelData: return .channelData
        case .channelClose: return .channelClose
        }
    }
}
