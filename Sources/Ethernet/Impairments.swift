/// What a port does to frames in one direction (`Protocols/ethernet.md` §5): delay with jitter,
/// random loss, random duplication and a token-bucket rate limit. All zero means "pass through".
public struct Impairments: Equatable, Sendable {
    /// Fixed one-way delay, nanoseconds.
    public var delayNs: UInt64
    /// Extra delay drawn uniformly from 0...jitterNs per frame. Frames keep their order.
    public var jitterNs: UInt64
    /// Probability in 0...1 that a frame is dropped.
    public var loss: Double
    /// Probability in 0...1 that a frame is sent twice.
    public var duplicate: Double
    /// Rate limit in bits per second; 0 = unlimited.
    public var rateBitsPerSecond: UInt64
    /// Token bucket depth in bytes (the burst sent at line speed); 0 = one MTU-sized frame.
    public var burstBytes: Int
    /// Bytes that may wait in the shaper before further frames are dropped.
    public var backlogBytes: Int

    public static let none = Impairments()
    public static let maxDelayNs: UInt64 = 60_000_000_000
    public static let defaultBacklogBytes = 256 * 1024

    public init(
        delayNs: UInt64 = 0, jitterNs: UInt64 = 0, loss: Double = 0, duplicate: Double = 0,
        rateBitsPerSecond: UInt64 = 0, burstBytes: Int = 0, backlogBytes: Int = Impairments.defaultBacklogBytes
    ) {
        self.delayNs = delayNs
        self.jitterNs = jitterNs
        self.loss = loss
        self.duplicate = duplicate
        self.rateBitsPerSecond = rateBitsPerSecond
        self.burstBytes = burstBytes
        self.backlogBytes = backlogBytes
    }

    public var isNone: Bool {
        delayNs == 0 && jitterNs == 0 && loss == 0 && duplicate == 0 && rateBitsPerSecond == 0
    }

    /// Why a setting is out of range, or `nil` when all are valid.
    public var invalidReason: String? {
        if delayNs > Impairments.maxDelayNs || jitterNs > Impairments.maxDelayNs {
            return "delay and jitter are at most 60 s"
        }
        if !(0...1).contains(loss) { return "loss is a probability in 0...1" }
        if !(0...1).contains(duplicate) { return "duplicate is a probability in 0...1" }
        if burstBytes < 0 || burstBytes > 64 << 20 { return "burstBytes is in 0...64MiB" }
        if backlogBytes < 0 || backlogBytes > 64 << 20 { return "backlogBytes is in 0...64MiB" }
        return nil
    }
}

/// The Android emulator's network profiles (`-netspeed`/`-netdelay`), as a port's two directions.
///
/// Speeds from android-constants.c (android-5.1.1_r9) and, for lte, the newer emulator help
/// (7080.1/21118.2 KiB/s). Delays from the older table's min–max ranges (gprs 150–550, edge 80–400,
/// umts 35–200); gsm takes gprs's range as the newer help does; hsdpa and lte have none. The delay range
/// becomes delay = min, jitter = max − min, applied towards the device (downlink) only, so a
/// round trip pays it once. "up" is what the device sends (ingress), "down" what it receives (egress).
public enum ImpairmentPreset: String, Sendable, CaseIterable {
    case gsm, gprs, edge, umts, hsdpa, lte, full

    public var upBitsPerSecond: UInt64 {
        switch self {
        case .gsm: 14_400
        case .gprs: 40_000
        case .edge: 118_400
        case .umts: 128_000
        case .hsdpa: 348_000
        case .lte: 58_000_179  // 7080.1 KiB/s
        case .full: 0
        }
    }

    public var downBitsPerSecond: UInt64 {
        switch self {
        case .gsm: 14_400
        case .gprs: 80_000
        case .edge: 236_800
        case .umts: 1_920_000
        case .hsdpa: 14_400_000
        case .lte: 173_000_294  // 21118.2 KiB/s
        case .full: 0
        }
    }

    /// Minimum and maximum one-way delay in milliseconds.
    public var delayRangeMs: ClosedRange<UInt64> {
        switch self {
        case .gsm, .gprs: 150...550
        case .edge: 80...400
        case .umts: 35...200
        case .hsdpa, .lte, .full: 0...0
        }
    }

    /// Ingress (device → LAN).
    public var up: Impairments { Impairments(rateBitsPerSecond: upBitsPerSecond) }

    /// Egress (LAN → device).
    public var down: Impairments {
        Impairments(
            delayNs: delayRangeMs.lowerBound * 1_000_000,
            jitterNs: (delayRangeMs.upperBound - delayRangeMs.lowerBound) * 1_000_000,
            rateBitsPerSecond: downBitsPerSecond)
    }
}
