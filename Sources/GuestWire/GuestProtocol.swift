/// Constants and small helpers of the hub guest protocol (`Protocols/guest.md`).
public enum GuestProtocol {
    /// The highest protocol version this codec speaks.
    public static let version: UInt16 = 1
    /// The lowest protocol version this codec speaks.
    public static let minimumVersion: UInt16 = 1
    /// Bytes in the length prefix before each frame body.
    public static let prefixLength = 4
    public static let nonceLength = 32
    public static let macLength = 32
    public static let resumeTokenLength = 16
    /// Session channel: handshake, interrupts, messaging, memory, liveness.
    public static let sessionChannel: UInt16 = 0
    /// `doorbellLine` value of a region without a doorbell.
    public static let noLine: UInt16 = 0xffff
    /// The `HELLO`/`CHALLENGE` feature that enables `LINK_OPEN`, `LINK_CLOSE` and the hub's unsolicited
    /// `LINK_OPENED`/`LINK_CLOSED` (§7.6, §11).
    public static let runtimeLinksFeature = "runtime-links"
    /// The `HELLO`/`CHALLENGE` feature that enables `MSG_SEND_SEQ` and `SEND_SEQUENCES`: idempotent sends a
    /// sender can repeat after it was killed or lost its connection (§7.10, §11).
    public static let sendSequenceFeature = "send-sequence"
    /// The `HELLO`/`CHALLENGE` feature that enables `MARK_GOOD`: a guest that negotiates it must mark its image
    /// good to pass probation (§9.4, `Protocols/management.md` §"Images").
    public static let markGoodFeature = "mark-good"
    /// The `HELLO`/`CHALLENGE` feature that enables `MSG_SEND_AS` and `MSG_DELIVER_AS`: messages carrying the
    /// identity the sending partition acts for (§7.12, §11).
    public static let identityFeature = "identity"
    /// The `HELLO`/`CHALLENGE` feature that makes the hub answer a send over its link's rate budget with `MSG_SENT`
    /// status 8 `rate_limited` instead of `queue_full` (§7.12, §11).
    public static let rateLimitFeature = "rate-limit"
    /// The `HELLO`/`CHALLENGE` feature that enables the power frames: declared power states, wake locks, `WAKE`,
    /// suspend for priority and `POWER_INFO` (`Protocols/power.md`).
    public static let powerFeature = "power"
    /// The `HELLO`/`CHALLENGE` feature that enables `ERROR_REPORT`: entries for the partition's persistent error
    /// log (§9.5, `Protocols/errorlog.md`).
    public static let errorLogFeature = "error-log"
    /// The `HELLO`/`CHALLENGE` feature that enables `POLICY_ACTIVATE` and the hub's `POLICY_CHANGED` (§9.6, §9.7,
    /// `Protocols/policy.md`).
    public static let policyProfilesFeature = "policy-profiles"
    /// Interrupt priorities run from 0 (highest) to this value (lowest).
    public static let lowestPriority: UInt8 = 15

    /// The bytes the `PROOF` MAC covers (§5.3): the `HELLO` frame body exactly as sent (header
    /// included, length prefix excluded) followed by the `CHALLENGE` frame body exactly as sent.
    /// The nonce is inside the challenge body, so every proof is fresh.
    public static func transcript(
        helloBody: some Collection<UInt8>, challengeBody: some Collection<UInt8>
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(helloBody.count + challengeBody.count)
        bytes.append(contentsOf: helloBody)
        bytes.append(contentsOf: challengeBody)
        return bytes
    }

    /// The version a hub answers (§5.2): the highest both ranges share, or nil when they are disjoint.
    public static func negotiate(
        clientMin: UInt16, clientMax: UInt16, hubMin: UInt16 = minimumVersion, hubMax: UInt16 = version
    ) -> UInt16? {
        let high = min(clientMax, hubMax)
        let low = max(clientMin, hubMin)
        return high >= low ? high : nil
    }
}
