import ControlWire
import EventLoop
import JSON
import Logging
import PlatformConfig

/// What the hub offers a device: handed to `HubDevice.start`, kept by the device for its lifetime (unowned: the
/// hub outlives its devices). The hub (`Hub` in `HubServer`) implements it; device modules never import
/// `HubServer`, so everything a device needs from the hub is here (`Sources/ARCHITECTURE.md`, "Where a new
/// device goes").
package protocol DeviceHost: AnyObject {
    /// The hub's one event loop; every callback of the device runs on its thread (`Sources/ARCHITECTURE.md`,
    /// "The loop's rules").
    var loop: Loop { get }
    /// The whole platform configuration (the device reads its own `devices` section and `hub.limits`).
    var configuration: PlatformConfiguration { get }
    /// The hub's logger.
    var logger: Logger { get }
    /// True once shutdown began: schedule no new work.
    var isShuttingDown: Bool { get }
    /// Wall-clock nanoseconds since the Unix epoch (capture timestamps); `MonotonicClock` for intervals.
    var wallClockNanos: UInt64 { get }

    /// Adds the device's control methods to the hub's router (names must be new; `Protocols/control.md`).
    func register(_ methods: [ControlMethod])
    /// Publishes an event to control subscribers and waiters (`Protocols/control.md` §5). Never blocks.
    func publishEvent(_ kind: String, partition: String?, device: String?, data: JSON)
    /// Raises interrupt `line` of `partition` on behalf of `device` (`Protocols/guest.md`, interrupts); what the
    /// platform model decides (delivered, coalesced, refused) is counted there.
    func raiseInterrupt(from device: String, to partition: String, line: Int)
    /// A new admission gate for one of the device's listener families (`Sources/ARCHITECTURE.md`, "Admission"),
    /// listed under `hub.admission`.
    func admissionGate(_ name: String, _ policy: AdmissionPolicy) -> AdmissionGate
    /// Listens on `endpoint` behind `gate` (accept errors counted, accepts bounded per pass); `accept` gets each
    /// new connection, which it must admit through `gate` (`AdmissionGate.admit`) or close.
    func listen(on endpoint: Endpoint, gate: AdmissionGate, accept: @escaping (any ByteStream) -> Void)
        throws(LoopError) -> any StreamListener
    /// Calls one of the hub's control methods in process, as the local administrator would, and returns its
    /// answer now (a method that would answer later is refused). This is how a device reports on the others
    /// (`/metrics`, `Protocols/http.md` §4) without depending on them: the control answers are the documented
    /// view of the hub (`Protocols/control.md`).
    func callMethod(_ name: String, params: JSON?) -> Result<JSON, ControlError>
    /// True once the hub's listeners are open and every device has started, until shutdown begins (`/readyz`).
    var isReady: Bool { get }
    /// Shared memory of `sizeBytes` to pass to a guest (`SharedMemory`), named `name` for diagnostics; nil when
    /// the kernel refuses it.
    func makeSharedMemory(name: String, sizeBytes: UInt64) -> (any SharedMemory)?
    /// The grant `partition` holds for `device` under the policy in force (`Protocols/policy.md`): the
    /// configuration's, changed by the active policy profile. Devices ask this, not the configuration, when a
    /// channel opens.
    func deviceGrant(partition: String, device: String) -> DeviceGrant?
}

extension DeviceHost {
    /// Without policy profiles (test hosts): the configuration's grant.
    package func deviceGrant(partition: String, device: String) -> DeviceGrant? {
        configuration.partition(named: partition)?.grant(for: device)
    }

    /// Publishes an event (`publishEvent` with defaults).
    package func publish(_ kind: String, partition: String? = nil, device: String? = nil, data: JSON = [:]) {
        publishEvent(kind, partition: partition, device: device, data: data)
    }

    /// The hub-wide limits (`hub.limits`).
    package var limits: Limits { configuration.hub.limits }

    /// A device family's set of pending waits, under the one rule of `Protocols/control.md` §8: at most
    /// `controlMaxWaiters` per family. `limitName` and `reason` are what the family's refusal has always said.
    package func makeWaits<Condition>(limitName: String = "controlMaxWaiters", reason: String = "too_many_waits")
        -> DeferredWaits<Condition>
    {
        DeferredWaits(loop: loop, limit: limits.controlMaxWaiters, limitName: limitName, reason: reason)
    }
}
