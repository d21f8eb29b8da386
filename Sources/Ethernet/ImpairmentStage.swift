/// One direction of one port's impairments at run time: decides, for each frame, whether it is lost,
/// duplicated and when it leaves. Frames leave in arrival order (jitter never reorders), so release
/// times are non-decreasing and a FIFO holds the delayed ones.
struct ImpairmentStage {
    var settings: Impairments
    /// Tokens in bytes; negative means that many bytes wait in the shaper.
    private var tokens: Double
    private var lastRefill: UInt64
    private var lastRelease: UInt64 = 0
    /// Frames held until their release time, and their bytes: `hold` and `releaseFirst` keep the two together.
    private(set) var held = FrameQueue<(release: UInt64, frame: SwitchFrame)>()
    private(set) var heldBytes = 0

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

    enum Verdict { case lost, overBacklog, full, pass(copies: Int, release: UInt64) }

    /// What happens to a frame of `length` bytes arriving at `now`. `heldLimit` bounds the bytes held: a delay
    /// without a rate limit would otherwise hold all a flood sends during the delay (60 s of a stream peer's
    /// flood grew the hub by gigabytes). A frame behind held ones is held too (order), so with frames held one
    /// that would pass the bound is refused (`full`) before it takes the shaper's tokens; with none held any frame
    /// fits (the limit is at least two of the largest frames).
    mutating func admit(length: Int, now: UInt64, heldLimit: Int, random: inout SplitMix64) -> Verdict {
        if settings.loss > 0 && random.nextUnit() < settings.loss { return .lost }
        let copies = settings.duplicate > 0 && random.nextUnit() < settings.duplicate ? 2 : 1
        if !held.isEmpty && heldBytes + length * copies > heldLimit { return .full }
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

    /// Holds `frame` until `release` (not before the frames already held).
    mutating func hold(_ frame: SwitchFrame, until release: UInt64) {
        held.append((release, frame))
        heldBytes += frame.bytes.count
    }

    /// The first held frame, taken out (the caller checked that there is one).
    mutating func releaseFirst() -> (release: UInt64, frame: SwitchFrame) {
        let first = held.removeFirst()
        heldBytes -= first.frame.bytes.count
        return first
    }
}
