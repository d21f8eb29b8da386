import ControlWire
import DeviceKit
import EventLoop
import HubSystem
import JSON
import PlatformConfig
import RealTimeScheduling

extension Hub {
    /// The control and guest listeners' gates, from `hub.limits` (`Protocols/control.md` §2.6, `guest.md` §5).
    static func makeGates(_ registry: AdmissionRegistry, _ configuration: PlatformConfiguration) -> (
        control: AdmissionGate, guest: AdmissionGate
    ) {
        let limits = configuration.hub.limits
        let control = registry.gate(
            "control",
            AdmissionPolicy(
                maxPending: limits.controlMaxPending, maxAuthenticated: limits.controlMaxClients,
                unixReserved: limits.controlUnixReserved, handshakeMs: limits.controlHandshakeMs,
                idleMs: limits.controlIdleMs, pendingLimit: "controlMaxPending",
                authenticatedLimit: "controlMaxClients"))
        // Guests' liveness after WELCOME is their heartbeat (guest.md §9), not an admission idle deadline.
        let guest = registry.gate(
            "guest",
            AdmissionPolicy(
                maxPending: limits.guestMaxPending, maxAuthenticated: limits.guestMaxSessions,
                unixReserved: limits.guestUnixReserved, handshakeMs: configuration.hub.handshakeTimeoutMs, idleMs: 0,
                pendingLimit: "guestMaxPending", authenticatedLimit: "guestMaxSessions"))
        return (control, guest)
    }

    /// `hub.admission`: every listener's budgets, what they hold now and what they refused.
    func registerAdmissionMethods() {
        router.register(admissionMethods)
    }

    /// `hub.admission` as a one-method table.
    var admissionMethods: [ControlMethod] {
        [
            .bound(
                "hub.admission", "Admission budgets, connections held and refusals per listener", to: self,
                Hub.hubAdmission)
        ]
    }

    /// `hub.admission`.
    func hubAdmission(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        return .result(self.admissionJSON())
    }

    /// Says at start whether the open-file soft limit was raised (`ProcessResources.raiseOpenFileLimit`).
    func logOpenFileLimit() {
        let limit = openFileLimit
        if let failure = limit.failure {
            logger.warning("open-file limit stays at \(limit.soft) (hard \(limit.hard)): \(failure)")
        } else if limit.soft != limit.softBefore {
            logger.info("open-file limit raised from \(limit.softBefore) to \(limit.soft)")
        }
    }

    func admissionJSON() -> JSON {
        var listeners = admission.gates.map(\.json)
        listeners.sort { ($0["name"]?.stringValue ?? "") < ($1["name"]?.stringValue ?? "") }
        return [
            "listeners": .array(listeners), "openFiles": openFilesJSON,
            "memoryTrims": .uint(admission.memoryTrims),
        ]
    }

    var openFilesJSON: JSON {
        let now = ProcessResources.openFileLimit()
        return [
            "soft": .uint(now.soft), "hard": .uint(now.hard), "softAtStart": .uint(openFileLimit.softBefore),
        ]
    }

    /// Measures every loop pass; a pass busy for longer than `loopStallWarnMs` is logged (at most one line a
    /// second, with the count of those not logged).
    func startWatchdog() {
        let warnMs = configuration.hub.limits.loopStallWarnMs
        watchdog = try? LoopWatchdog(loop: loop, stallThresholdNanos: UInt64(warnMs) * 1_000_000)
        watchdog?.onStall = { [unowned self] busy in
            guard let suffix = self.stallLog.admit(nowMs: self.loop.nowMilliseconds) else { return }
            self.logger.warning(
                "a loop pass was busy for \(busy / 1_000_000) ms (hub.limits.loopStallWarnMs \(warnMs))\(suffix)")
        }
    }

    /// With `SCHED_FIFO` in effect, samples what the loop thread wanted of a CPU once per `realTimeBudgetWindowMs` at
    /// the end of a pass (`RealTimeBudget`): a window at `realTimeBudgetPercent` of a CPU or more puts the thread at
    /// normal scheduling until a window wants less than half of that.
    func startRealTimeBudget() {
        let limits = configuration.hub.limits
        guard scheduling.applied, limits.realTimeBudgetPercent < 100 else { return }
        guard let watchdog, Scheduling.threadCPUDemandNanoseconds() != nil else {
            return logger.warning(
                "hub.limits.realTimeBudgetPercent not applied: \(watchdog == nil ? "no loop watchdog" : "/proc/thread-self/schedstat cannot be read"); the hub stays at SCHED_FIFO however busy"
            )
        }
        let priority = Int32(scheduling.requested)
        let budget = RealTimeBudget(
            percent: limits.realTimeBudgetPercent, windowMilliseconds: limits.realTimeBudgetWindowMs,
            now: MonotonicClock.nanoseconds(), threadDemandNanos: Scheduling.threadCPUDemandNanoseconds,
            setNormal: { (try? Scheduling.setNormal(pid: 0, resetOnFork: true)) != nil },
            setRealTime: { (try? Scheduling.setRealTime(pid: 0, priority: priority, resetOnFork: true)) != nil })
        scheduling.budget = budget
        realTimeBudgetTimer = try? Timer(loop: loop)  // without, an idle demoted hub is restored at its next input
        budget.onChange = { [unowned self] change in self.realTimeBudgetChanged(change) }
        watchdog.afterPass = { [unowned budget] now in budget.passEnded(now: now) }
    }

    private func realTimeBudgetChanged(_ change: RealTimeBudget.Change) {
        // `hub.info` keeps `scheduling` in its fixed part: rebuilt at the next call.
        fixedInfo = nil
        guard let budget = scheduling.budget else { return }
        let window = budget.windowNanos / 1_000_000
        switch change {
        case .demoted:
            // The timer's pass is enough: the window closes at the end of every pass once it is over.
            realTimeBudgetTimer?.start(afterMilliseconds: window, repeatMilliseconds: window) {}
            guard let suffix = demotionLog.admit(nowMs: loop.nowMilliseconds) else { return }
            logger.info(
                "the loop wanted \(budget.percent)% or more of a CPU over a window at SCHED_FIFO: normal scheduling until a window wants less than half of that (hub.limits.realTimeBudgetPercent)\(suffix)"
            )
        case .restored:
            realTimeBudgetTimer?.stop()
        case .refused:
            // A refused restore is retried at the next window a pass ends, not every window of an idle hub.
            if budget.demoted { realTimeBudgetTimer?.stop() }
            // Refused once, refused every window after: logged at the 1st, 2nd, 4th, 8th... refusal.
            guard budget.refusals & (budget.refusals - 1) == 0 else { return }
            logger.warning(
                "the real-time budget could not change the loop's scheduling (\(budget.refusals) refusals): it stays \(budget.demoted ? "SCHED_OTHER" : "SCHED_FIFO")"
            )
        }
    }

    /// `hub.info`'s `loop` member, written into the answer: its figures change every pass, its names never.
    func writeLoopJSON(into out: inout [UInt8]) {
        guard let watchdog else { return JSON.writeRaw("null", into: &out) }
        let figures = [
            Int64(clamping: watchdog.passes), Int64(clamping: watchdog.longestPassNanos / 1000),
            Int64(watchdog.recentP99Micros), Int64(watchdog.recentCount), Int64(clamping: watchdog.stalls),
            Int64(configuration.hub.limits.loopStallWarnMs),
        ]
        Hub.loopTemplate.write(into: &out) { member, out in JSON.writeInteger(figures[member], into: &out) }
    }

    static let loopTemplate = JSONTemplate(
        ["passes": 0, "longestPassUs": 0, "p99PassUs": 0, "recentPasses": 0, "stalls": 0, "stallWarnMs": 0],
        open: ["passes", "longestPassUs", "p99PassUs", "recentPasses", "stalls", "stallWarnMs"])
}
