import ControlWire
import DeviceKit
import EventLoop
import JSON
import Logging
import PlatformConfig

/// A `DeviceHost` for testing a device in process without the hub and without sockets: a real `Loop` (timers,
/// end-of-pass work; run it with `runPasses`), the configuration the test gives, and records of what the device
/// asked for — its method table, published events, raised interrupts. Listeners are fakes: `connect(to:)` hands
/// the device a `FakeByteStream` as if a peer had connected to that endpoint.
package final class FakeDeviceHost: DeviceHost {
    package let loop: Loop
    package var configuration: PlatformConfiguration
    package var logger: Logger
    package var isShuttingDown = false
    package var wallClockNanos: UInt64 = 1_700_000_000_000_000_000
    /// The device's control methods, as registered.
    package private(set) var methods: [ControlMethod] = []
    /// Events published, oldest first.
    package private(set) var events: [(kind: String, device: String?, data: JSON)] = []
    /// Interrupts raised, oldest first.
    package private(set) var interrupts: [(device: String, partition: String, line: Int)] = []
    package let admission: AdmissionRegistry
    /// Fake listeners by the endpoint they were opened on.
    package private(set) var listeners: [Endpoint: FakeListener] = [:]

    package init(configuration: PlatformConfiguration) throws(LoopError) {
        loop = try Loop()
        self.configuration = configuration
        logger = Logger(label: "fake-device-host")
        logger.logLevel = .critical
        admission = AdmissionRegistry(
            loop: loop, limits: configuration.hub.limits, logger: logger, returnFreeMemory: {})
    }

    package func register(_ methods: [ControlMethod]) { self.methods += methods }

    /// Answers `callMethod` for methods no device registered here (the hub's own, other devices'): the
    /// method's name and parameters to its result, nil for an unknown method.
    package var otherMethods: (String, JSON?) -> JSON? = { _, _ in nil }
    /// What `isReady` says.
    package var isReady = true

    package func callMethod(_ name: String, params: JSON?) -> Result<JSON, ControlError> {
        if let answer = otherMethods(name, params) { return .success(answer) }
        guard let method = methods.first(where: { $0.name == name }) else { return .failure(.methodNotFound(name)) }
        let call = ControlCall(id: .int(0), method: name, params: params, caller: nil)
        do {
            switch try method.handler(call) {
            case .result(let value): return .success(value)
            case .encodedResult(let text): return .success((try? JSON.parse(text)) ?? .null)
            case .error(let error): return .failure(error)
            case .deferred: return .failure(.invalidRequest("\(name) answers later"))
            }
        } catch {
            return .failure(error)
        }
    }

    package func publishEvent(_ kind: String, partition: String?, device: String?, data: JSON) {
        events.append((kind, device, data))
    }

    package func raiseInterrupt(from device: String, to partition: String, line: Int) {
        interrupts.append((device, partition, line))
    }

    package func admissionGate(_ name: String, _ policy: AdmissionPolicy) -> AdmissionGate {
        admission.gate(name, policy)
    }

    package func listen(on endpoint: Endpoint, gate: AdmissionGate, accept: @escaping (any ByteStream) -> Void)
        throws(LoopError) -> any StreamListener
    {
        let listener = FakeListener(endpoint: endpoint, accept: accept)
        listeners[endpoint] = listener
        return listener
    }

    /// Shared memory made for the device, newest last (`FakeSharedMemory`: heap bytes the test can write).
    package private(set) var sharedMemory: [FakeSharedMemory] = []
    /// When false, `makeSharedMemory` refuses as a kernel out of memfds would.
    package var sharedMemoryAvailable = true

    package func makeSharedMemory(name: String, sizeBytes: UInt64) -> (any SharedMemory)? {
        guard sharedMemoryAvailable, sizeBytes <= 1 << 30 else { return nil }
        let memory = FakeSharedMemory(name: name, sizeBytes: Int(sizeBytes))
        sharedMemory.append(memory)
        return memory
    }

    /// A peer connects to the fake listener on `endpoint`; nil when nothing listens there.
    package func connect(to endpoint: Endpoint, kind: Connection.Kind = .unix) -> FakeByteStream? {
        guard let listener = listeners[endpoint], listener.isOpen else { return nil }
        let stream = FakeByteStream(kind: kind)
        listener.accept(stream)
        return stream
    }

    /// Runs the loop for `count` passes without blocking: timers that are due fire, end-of-pass work runs.
    package func runPasses(_ count: Int = 1) {
        for _ in 0..<count { _ = loop.runOnce(wait: false) }
    }

    /// Closes every handle the device left open and the loop; returns `uv_loop_close`'s result (0: no leak).
    package func shutdown() -> Int32 {
        admission.close()
        return loop.shutdown()
    }
}

/// The listener `FakeDeviceHost.listen` returns.
package final class FakeListener: StreamListener {
    package let boundEndpoint: Endpoint
    fileprivate let accept: (any ByteStream) -> Void
    package private(set) var isOpen = true

    init(endpoint: Endpoint, accept: @escaping (any ByteStream) -> Void) {
        boundEndpoint = endpoint
        self.accept = accept
    }

    package func close(then callback: (() -> Void)?) {
        isOpen = false
        callback?()
    }
}
