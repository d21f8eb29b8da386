import GuestWire

/// Virtualised power (`Protocols/power.md` §4–§5). Attach with `features: [GuestProtocol.powerFeature]`; without
/// it the hub answers each of these `ERROR` `unknown_frame_type` (thrown as `.rejected`). The hub's `WAKE` surfaces
/// as `GuestEvent.wake`, always before the interrupt that caused it.
extension GuestClient {
    /// Whether the hub offered the power frames in `CHALLENGE`.
    public var hubOffersPower: Bool { hubFeatures.contains(GuestProtocol.powerFeature) }

    /// `POWER_STATE` (§4.1): declares this partition's state. Accounting only: the hub never holds deliveries
    /// because of it, and wakes a guest that declared `idle` or `suspended` before delivering an interrupt.
    public func declarePower(_ state: GuestPowerState) throws(GuestClientError) {
        let answer = try request(.powerState(state))
        guard case .ok = answer.message else { throw .unexpected(answer.type) }
    }

    /// `WAKE_LOCK` (§4.2): takes (`held`) or releases the named lock (1–64 bytes). Taking a held lock or releasing
    /// one not held changes nothing; past `hub.limits.powerMaxWakeLocks` the hub refuses with `limit_reached`.
    public func wakeLock(_ name: String, held: Bool = true) throws(GuestClientError) {
        let answer = try request(.wakeLock(held: held, name: name))
        guard case .ok = answer.message else { throw .unexpected(answer.type) }
    }

    /// `PARTITION_CONTROL` (§5): suspends or resumes a partition this one's `maySuspend` names. Refusals are
    /// statuses (`notPermitted`, `noSuchPartition`, `selfTarget`), not errors: the hub always answers.
    public func partitionControl(_ action: GuestPartitionAction, partition: String, reason: String = "")
        throws(GuestClientError) -> GuestPartitionControlStatus
    {
        let answer = try request(.partitionControl(action: action, partition: partition, reason: reason))
        guard case .partitionControlResult(_, _, let status) = answer.message else { throw .unexpected(answer.type) }
        return status
    }

    /// `POWER_QUERY` (§4.4): the platform state, this partition's counted state, battery, draw and locks.
    public func powerQuery() throws(GuestClientError) -> GuestPowerInfo {
        let answer = try request(.powerQuery)
        guard case .powerInfo(let info) = answer.message else { throw .unexpected(answer.type) }
        return info
    }
}
