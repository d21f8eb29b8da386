import ControlWire
import DeviceKit
import EventLoop
import JSON
import PlatformConfig

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
            let now = self.loop.nowMilliseconds
            if let last = self.lastStallLogMs, now - last < 1000 {
                self.stallsNotLogged += 1
                return
            }
            self.lastStallLogMs = now
            let more = self.stallsNotLogged
            self.stallsNotLogged = 0
            let suffix = more > 0 ? " (and \(more) more since the last report)" : ""
            self.logger.warning(
                "a loop pass was busy for \(busy / 1_000_000) ms (hub.limits.loopStallWarnMs \(warnMs))\(suffix)")
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
