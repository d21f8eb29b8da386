import ControlWire
import DeviceKit
import ErrorLogServer
import EthernetServer
import EventLoop
import FramebufferServer
import HTTPEndpoint
import HubSystem
import Hypervisor
import JSON
import Management
import ManagementServer
import ModemServer
import PlatformConfig
import PowerServer
import SoftwareCommands

/// The device families this hub runs. Each device family adds itself here, in one line
/// (`Sources/ARCHITECTURE.md`, "Where a new device goes").
extension Hub {
    func makeDevices() throws(HubStartError) -> [any HubDevice] {
        [
            ModemDevice(), EthernetDevice(), FramebufferDevice(), try makeManagementDevice(),
            HTTPDevice(), makePowerDevice(), try ErrorLogDevice(configuration: configuration),
        ]
    }

    private func makePowerDevice() -> PowerDevice {
        let device = PowerDevice(configuration: configuration)
        power = device
        return device
    }

    /// The management plane, carrying out verified software commands on the slots whenever both exist (a state
    /// directory is configured); without slots its executor refuses them with `operation_unavailable`.
    private func makeManagementDevice() throws(HubStartError) -> ManagementDevice {
        let device = try ManagementDevice(configuration: configuration)
        // The crash-safety tests' kill points, under the same two switches as the slots' (management.md §"Test hooks").
        if software?.testHooks == true { device.killPoint = CurrentProcess.environment["HANDSETHUB_TEST_KILL_AT"] }
        if let software { device.executor = SlotCommandExecutor(slots: software.slots, runner: software) }
        if let provisioning {
            provisioning.host = self
            provisioning.next = device.executor
            device.executor = provisioning
        }
        device.executor = PolicyCommandExecutor(next: device.executor) { [unowned self] profile, by in
            self.policyControl.activateJSON(profile, by: by).mapError { ManagementRefusal($0.code, $0.detail) }
        }
        return device
    }

    /// The partitions' persistent error logs (`Protocols/errorlog.md`), which `ERROR_REPORT` and the hub's
    /// fault events feed.
    var errorLog: ErrorLogDevice? { devices.lazy.compactMap { $0 as? ErrorLogDevice }.first }

    /// The management plane (`Protocols/management.md`), which the `mgmt` partition's relay submits to.
    var management: ManagementDevice? { devices.lazy.compactMap { $0 as? ManagementDevice }.first }
}

/// A device family still inside `HubServer` (the modem and the framebuffer, until they move to their own
/// modules): it starts with the concrete hub instead of a `DeviceHost`.
protocol HubServerDevice: HubDevice {
    func start(hub: Hub) throws(HubStartError)
}

extension HubServerDevice {
    func start(host: any DeviceHost) throws(HubStartError) {
        // The hub is the only DeviceHost that starts devices inside HubServer.
        guard let hub = host as? Hub else { preconditionFailure("\(familyName) starts only on a Hub") }
        try start(hub: hub)
    }
}

/// What the hub offers devices (`DeviceKit.DeviceHost`).
extension Hub: DeviceHost {
    package var wallClockNanos: UInt64 { Hub.wallClockNanos() }

    package func register(_ methods: [ControlMethod]) { router.register(methods) }

    package func publishEvent(_ kind: String, partition: String?, device: String?, data: JSON) {
        publish(kind, partition: partition, device: device, data: data)
    }

    package func raiseInterrupt(from device: String, to partition: String, line: Int) {
        var actions: [Action] = []
        _ = platform.raise(from: .device(device), to: partition, line: line, actions: &actions)
        perform(&actions)
    }

    package func admissionGate(_ name: String, _ policy: AdmissionPolicy) -> AdmissionGate {
        admission.gate(name, policy)
    }

    package func listen(on endpoint: Endpoint, gate: AdmissionGate, accept: @escaping (any ByteStream) -> Void)
        throws(LoopError) -> any StreamListener
    {
        let listener = try Listener(loop: loop, address: endpoint.socketAddress) { connection in accept(connection) }
        gate.watch(listener)
        return listener
    }

    package func callMethod(_ name: String, params: JSON?) -> Result<JSON, ControlError> {
        guard let method = router.methods[name] else { return .failure(.methodNotFound(name)) }
        let call = ControlCall(id: .int(0), method: name, params: params, caller: nil)
        do {
            switch try method.handler(call) {
            case .result(let value): return .success(value)
            case .encodedResult(let text): return .success((try? JSON.parse(text)) ?? .null)
            case .error(let error): return .failure(error)
            case .deferred:
                // Nobody will read a later answer: forget the call as a vanished client's.
                call.callerClosed()
                return .failure(.invalidRequest("\(name) answers later", reason: "deferred"))
            }
        } catch {
            return .failure(error)
        }
    }

    package var isReady: Bool { devicesStarted && !isShuttingDown }

    package func makeSharedMemory(name: String, sizeBytes: UInt64) -> (any SharedMemory)? {
        MemfdRegionBacking(name: name, sizeBytes: sizeBytes)
    }
}

/// The hub's shared memory for devices is the sealed memfd shared regions use.
extension MemfdRegionBacking: SharedMemory {}

/// Regions live in memfds so Unix-socket guests can map them (`Protocols/guest.md` §8.5).
extension MemfdRegionBacking: RegionBacking {}
