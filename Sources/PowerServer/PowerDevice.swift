import DeviceKit
import EventLoop
import JSON
import PlatformConfig
import Power

/// The virtualised power device (`Protocols/power.md`): keeps the `PowerModel` — partitions' declared states
/// and wake locks, the platform state, the battery — and wakes partitions before interrupts reach them.
///
/// The hub tells it what happens through two hooks: every published event (`observe`: attaches, detaches,
/// management suspensions, modem calls) and every interrupt about to be delivered (`wakeBeforeInterrupt`).
/// Guests reach it through the power frames (`PowerAttachments.swift`), operators through `power.*`.
package final class PowerDevice: HubDevice {
    package let familyName = "power"
    var model: PowerModel
    /// Set by `start`. Unowned, not weak: the hub owns the device and outlives it, and a weak reference would give
    /// the hub a side table (`Sources/ARCHITECTURE.md`, "A handle's lifetime").
    unowned var host: (any DeviceHost)?
    private(set) var waits: DeferredWaits<PowerWait>?
    /// Re-evaluates the platform state when `suspendAfterMs` of quiet have passed.
    private var suspendTimer: Timer?
    let counters = PowerCounters()
    let configuration: PlatformConfiguration
    /// Calls in progress per modem (by call id): while any is, the hub holds the wake lock `call:MODEM`.
    var calls: [String: Set<Int64>] = [:]
    /// The model's clock: monotonic nanoseconds (a test injects its own).
    let clock: () -> UInt64

    package init(configuration: PlatformConfiguration, clock: @escaping () -> UInt64 = MonotonicClock.nanoseconds) {
        self.configuration = configuration
        self.clock = clock
        model = PowerModel(
            config: configuration.power, partitions: configuration.partitions.map(\.name), now: clock())
    }

    package func start(host: any DeviceHost) throws(HubStartError) {
        self.host = host
        waits = host.makeWaits()
        do {
            suspendTimer = try Timer(loop: host.loop)
        } catch {
            throw .device("power: cannot create the suspend timer: \(error)")
        }
        host.register(methods)
    }

    package func stop() {
        suspendTimer?.close()
        suspendTimer = nil
        waits?.finishAll(.error(.unavailable("the hub is shutting down")))
        waits?.close()
    }

    package var limitsJSON: JSON {
        [
            "powerMaxWakeLocks": .int(Int64(configuration.hub.limits.powerMaxWakeLocks)),
            "suspendAfterMs": .int(Int64(configuration.power.suspendAfterMs)),
        ]
    }

    package func partitionDetached(_ partition: String) {
        apply(model.setAttached(partition, false, now: clock()))
    }

    /// Runs `change` on the model at the current time and carries out what changed.
    package func update(_ change: (inout PowerModel, UInt64) -> [PowerChange]) {
        apply(change(&model, clock()))
    }

    /// Publishes what changed, answers the waits it satisfies, and re-arms the suspend timer.
    func apply(_ changes: [PowerChange]) {
        for change in changes {
            switch change {
            case .platform(let from, let to):
                counters.stateChanges += 1
                host?.publish(
                    "power.stateChanged",
                    data: [
                        "from": .string(from.rawValue), "to": .string(to.rawValue), "drawMw": .double(model.drawMw),
                        "batteryPercent": .double(model.batteryPercent),
                    ])
                resolveWaits()
            case .woken(let partition, let source, let from):
                host?.publish(
                    "power.wake", partition: partition,
                    data: ["source": .string(source), "from": .string(from.rawValue)])
            }
        }
        armSuspendTimer()
    }

    private func armSuspendTimer() {
        guard let timer = suspendTimer else { return }
        guard let deadline = model.suspendDeadline else { return timer.stop() }
        let now = clock()
        let delayMs = deadline > now ? (deadline - now + 999_999) / 1_000_000 : 0
        timer.start(afterMilliseconds: delayMs, repeatMilliseconds: 0) { [unowned self] in
            self.update { model, now in model.tick(now: now) }
        }
    }

    /// The model brought up to now (battery integrated), for answers.
    func current() -> PowerModel {
        model.advance(to: clock())
        return model
    }

    /// Sets the model through `power.set`.
    func mutate(_ body: (inout PowerModel, UInt64) -> Void) {
        body(&model, clock())
    }
}
