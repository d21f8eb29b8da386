/// Values of the power frames (`Protocols/power.md` §4–§6, feature `power`).

/// A partition's power state as its guest declares it (`POWER_STATE.state`).
public enum GuestPowerState: UInt8, Sendable, CaseIterable {
    case active = 0
    case idle = 1
    case suspended = 2
    case off = 3
}

/// The platform's aggregate state (`POWER_INFO.platform`).
public enum GuestPlatformPowerState: UInt8, Sendable, CaseIterable {
    case on = 0
    case idle = 1
    case suspend = 2
}

/// What `PARTITION_CONTROL` asks for.
public enum GuestPartitionAction: UInt8, Sendable, CaseIterable {
    case suspend = 0
    case resume = 1
}

/// The answer to `PARTITION_CONTROL` (`PARTITION_CONTROL_RESULT.status`).
public enum GuestPartitionControlStatus: UInt8, Sendable, CaseIterable {
    /// The target is now suspended (or resumed).
    case done = 0
    /// The target was already in that state.
    case unchanged = 1
    /// The sender's `maySuspend` does not name the target.
    case notPermitted = 2
    /// No partition has that name.
    case noSuchPartition = 3
    /// The target is the sender itself.
    case selfTarget = 4
    /// The target's guest does not read (its frames over the hub's write watermark): its SUSPEND or RESUME could
    /// not be queued without bound, so nothing changed (`Protocols/power.md` §5.2).
    case notReading = 5
}

/// `POWER_INFO` (hub → guest): the platform's power as the guest's status bar shows it.
public struct GuestPowerInfo: Sendable, Equatable {
    public var platform: GuestPlatformPowerState
    /// The state the hub counts for the asking partition.
    public var partition: GuestPowerState
    /// Battery level in hundredths of a percent, 0...10000.
    public var batteryCentiPercent: UInt16
    public var charging: Bool
    /// What the platform draws now, mW (rounded, saturating).
    public var drawMw: UInt32
    /// Wake locks held now, hub-wide.
    public var locks: UInt16

    public init(
        platform: GuestPlatformPowerState, partition: GuestPowerState, batteryCentiPercent: UInt16, charging: Bool,
        drawMw: UInt32, locks: UInt16
    ) {
        self.platform = platform
        self.partition = partition
        self.batteryCentiPercent = batteryCentiPercent
        self.charging = charging
        self.drawMw = drawMw
        self.locks = locks
    }
}
