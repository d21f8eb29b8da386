/// Frame type numbers of the guest protocol (`Protocols/guest.md` §4).
///
/// The high byte names the family (0 handshake and generic answers, 1 interrupts, 2 messaging,
/// 3 memory, 4 liveness, 5 device channels) so a trace is readable at a glance.
public enum GuestFrameType: UInt16, Sendable, CaseIterable {
    case hello = 0x0001
    case challenge = 0x0002
    case proof = 0x0003
    case welcome = 0x0004
    case error = 0x0005
    case ok = 0x0006

    case raise = 0x0101
    case raiseResult = 0x0102
    case irq = 0x0103
    case eoi = 0x0104
    case mask = 0x0105
    case unmask = 0x0106
    case setPriority = 0x0107
    case timerSet = 0x0108
    case timerCancel = 0x0109

    case msgSend = 0x0201
    case msgSent = 0x0202
    case msgDeliver = 0x0203
    case msgAck = 0x0204
    case credit = 0x0205
    // Links opened at run time (§7.6–§7.9), feature `runtime-links`.
    case linkOpen = 0x0206
    case linkOpened = 0x0207
    case linkClose = 0x0208
    case linkClosed = 0x0209
    // Idempotent sends (§7.10–§7.11), feature `send-sequence`.
    case msgSendSequenced = 0x020A
    case sendSequences = 0x020B
    // Identity-stamped sends (§7.12), feature `identity`.
    case msgSendAs = 0x020C
    case msgDeliverAs = 0x020D

    case regionRead = 0x0301
    case regionData = 0x0302
    case regionWrite = 0x0303
    case regionResult = 0x0304
    case regionFD = 0x0305

    case heartbeat = 0x0401
    case heartbeatAck = 0x0402
    case suspend = 0x0403
    case resume = 0x0404
    case detach = 0x0405
    // The image on probation is healthy (§9.4), feature `mark-good`.
    case markGood = 0x0406
    // An entry for the partition's error log (§9.5), feature `error-log`.
    case errorReport = 0x0407

    // Virtualised power and suspend for priority (Protocols/power.md), feature `power`.
    case powerState = 0x0601
    case wakeLock = 0x0602
    case wake = 0x0603
    case partitionControl = 0x0604
    case partitionControlResult = 0x0605
    case powerQuery = 0x0606
    case powerInfo = 0x0607
    // Policy profiles (§9.6, §9.7), feature `policy-profiles`.
    case policyActivate = 0x0410
    case policyChanged = 0x0411

    case channelOpen = 0x0501
    case channelOpened = 0x0502
    case channelData = 0x0503
    case channelClose = 0x0504

    /// Channel-family frames travel on a device channel (≠ 0); `error` and `ok` may answer on any
    /// channel; every other frame belongs to the session channel 0 (§3.2).
    public var channelRule: ChannelRule {
        switch self {
        case .channelOpen, .channelOpened, .channelData, .channelClose: return .device
        case .error, .ok: return .any
        default: return .session
        }
    }

    public enum ChannelRule: Sendable { case session, device, any }
}
