/// One direction of one port's impairments at run time: decides, for each frame, whether it is lost,
/// duplicated and when it leaves. Frames leave in arrival order (jitter never reorders), so release
/// times are non-decreasing and a FIFO holds the delayed ones.
struct ImpairmentStage {
    var settings: Impairments
    /// Tokens in bytes; negative means that many bytes wait in the shaper.
    private var tokens: Double
    private var lastRefill: UInt64
    private var lastRelease: UInt64 = 0
    /// Frames held until their release time.
    var held = FrameQueue<(release: UInt64, frame: SwitchFrame)>()
    var heldBytes = 0

    init(settings: Impairments, now: UInt64) {
        self.settings = settings
        tokens = Double(settings.burstBytes)
        lastRefill = now
    }

    mutating func update(_ settings: Impairments, now: UInt64) {
        self.settings = settings
        tokens = min(tokens, Double(max(settings.burstBytes, 1)))
        lastRefill = now
    }

    enum Verdict { case lost, overBacklog, pass(copies: Int, release: UInt64) }

    /// What happens to a frame of `length` bytes arriving at `now`.
    mutating func admit(length: Int, now: UInt64, random: inout SplitMix64) -> Verdict {
        if settings.loss > 0 && random.nextUnit() < settings.loss { return .lost }
        let copies = settings.duplicate > 0 && random.nextUnit() < settings.duplicate ? 2 : 1
        var release = now
        if settings.rateBitsPerSecond > 0 {
            let bytesPerNs = Double(settings.rateBitsPerSecond) / 8e9
            let depth = Double(max(settings.burstBytes, length))
            tokens = min(depth, tokens + Double(now &- lastRefill) * bytesPerNs)
            lastRefill = now
            let needed = Double(length * copies)
            if -(tokens - needed) > Double(settings.backlogBytes) { return .overBacklog }
            tokens -= needed
            if tokens < 0 { release = now + UInt64(-tokens / bytesPerNs) }
        }
        release += settings.delayNs
        if settings.jitterNs > 0 { release += random.next(upTo: settings.jitterNs) }
        release = max(release, lastRelease)
        lastRelease = release
        return .pass(copies: copies, release: release)
    }
}
