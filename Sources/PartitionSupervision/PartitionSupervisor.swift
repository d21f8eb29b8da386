import Endpoints
import EventLoop
import HubSystem
import Hypervisor
import JSON
import Logging
import PartitionResources
import PlatformConfig
import SoftwareSlots
import Wire

/// Launches, watches and restarts one partition's guest process (`Deploy/config-reference.md`,
/// partitions[].launch and partitions[].restart; `Protocols/control.md` §10).
///
/// States: `stopped → starting → running ⇄ suspended`; a guest that exits, fails to attach in time or
/// misses its heartbeats is `crashed`, then `restarting` after a back-off, or `failed` once the
/// partition's restart budget is spent. Every transition is a `partition.state` event with a reason.
/// The model keeps the partition's queued messages and latched interrupts across restarts, so a
/// restarted guest resumes where its predecessor stopped.
package final class PartitionSupervisor {
    package enum State: String {
        case stopped, starting, running, suspended, crashed, restarting, failed
    }

    package let partition: PartitionConfig
    package let launch: LaunchConfig
    private unowned let hub: any SupervisorHost
    package private(set) var state: State = .stopped
    package private(set) var process: ChildProcess?
    private var attachTimer: Timer?
    private var backoffTimer: Timer?
    private var killTimer: Timer?
    /// Monotonic times of restarts, for the budget window.
    private var restartTimes: [UInt64] = []
    /// Failures since the guest last ran stably; the back-off grows with these, so a crash loop slows
    /// down while a guest that ran fine for a while and then crashed comes back at once.
    private var consecutiveFailures = 0
    /// When the current guest became `running` (monotonic ns).
    private var runningSince: UInt64?
    /// A guest that stayed running this long before failing counts as having run stably.
    static let stableNanoseconds: UInt64 = 1_000_000_000
    package private(set) var restarts: UInt64 = 0
    package private(set) var lastExit: (status: Int64, signal: Int32)?
    package private(set) var lastReason = "configured"
    package private(set) var log: ByteRing
    /// `launch.logFile`, bounded by `launch.logFileMaxBytes` (one rotation to `.1`).
    private var logFile: RotatingLogFile?
    package private(set) var resources = ResourceReport()
    /// Set while the hub itself stops the process, so its exit is not a crash.
    private var stopping = false
    private var pendingRestart = false
    package var logger: Logger

    package init(partition: PartitionConfig, launch: LaunchConfig, hub: any SupervisorHost, logger: Logger) {
        self.partition = partition
        self.launch = launch
        self.hub = hub
        self.log = ByteRing(capacity: launch.logRingBytes)
        self.logger = logger
        self.logger[metadataKey: "partition"] = "\(partition.name)"
        if let path = launch.logFile {
            do {
                logFile = try RotatingLogFile(path: path, maxBytes: launch.logFileMaxBytes)
            } catch {
                logger.warning("cannot open log file \(path): errno \(error.code)")
            }
        }
    }

    package var processID: Int32? { process.flatMap { $0.hasExited ? nil : $0.processID } }

    // MARK: Commands

    /// Starts the guest unless it is already starting or running.
    @discardableResult
    package func start(reason: String) -> Bool {
        switch state {
        case .starting, .running, .suspended, .restarting: return false
        case .stopped, .crashed, .failed: break
        }
        if state == .failed {
            restartTimes.removeAll()
            consecutiveFailures = 0
        }
        spawn(reason: reason)
        return true
    }

    /// Stops the guest: SIGTERM, then SIGKILL if it is still there after two seconds.
    package func stop(reason: String) {
        backoffTimer?.close()
        backoffTimer = nil
        pendingRestart = false
        guard let process, !process.hasExited else {
            transition(to: .stopped, reason: reason)
            return
        }
        stopping = true
        lastReason = reason
        if state == .suspended { try? process.kill(signal: SignalNumber.resume) }
        try? process.kill(signal: SignalNumber.terminate)
        killTimer?.close()
        killTimer = try? Timer.once(loop: hub.loop, afterMilliseconds: 2000) { [weak self] in
            try? self?.process?.kill(signal: SignalNumber.kill)
        }
    }

    /// Stops and starts again (`partition.restart`), without spending the restart budget.
    package func restart(reason: String) {
        guard let process, !process.hasExited else {
            start(reason: reason)
            return
        }
        pendingRestart = true
        stopping = true
        lastReason = reason
        if state == .suspended { try? process.kill(signal: SignalNumber.resume) }
        try? process.kill(signal: SignalNumber.kill)
    }

    /// SIGSTOP / SIGCONT the process (the hub has already told the guest, and the model stops deliveries).
    package func setSuspended(_ suspended: Bool) -> String? {
        guard let process, !process.hasExited else { return "no process is running" }
        do {
            try process.kill(signal: suspended ? SignalNumber.stop : SignalNumber.resume)
        } catch {
            return "\(error)"
        }
        if suspended, state == .running || state == .starting {
            // A stopped process cannot attach: its attach deadline waits for the resume.
            attachTimer?.close()
            attachTimer = nil
            transition(to: .suspended, reason: "suspended by management")
        } else if !suspended, state == .suspended {
            // A QEMU guest never attaches: it runs once QEMU does.
            let attached = hub.isAttached(partition.name) || launch.qemu != nil
            transition(to: attached ? .running : .starting, reason: "resumed by management")
            if !attached { armAttachTimer() }
        }
        return nil
    }

    /// Whether management has the partition suspended (`partition.suspend`); the model keeps it across restarts.
    private var partitionSuspended: Bool { hub.isSuspended(partition.name) }

    /// Kills whatever is left at hub shutdown.
    package func terminateForShutdown() {
        backoffTimer?.close()
        attachTimer?.close()
        killTimer?.close()
        stopping = true
        if let process, !process.hasExited {
            try? process.kill(signal: SignalNumber.resume)
            try? process.kill(signal: SignalNumber.terminate)
        }
    }

    package func killForShutdown() {
        if let process, !process.hasExited { try? process.kill(signal: SignalNumber.kill) }
    }

    // MARK: Events from the hub

    package func guestAttached() {
        attachTimer?.close()
        attachTimer = nil
        hub.softwareSlots?.attached(partition: partition.name, marksGood: hub.marksGood(partition.name))
        if state == .starting || state == .restarting { transition(to: .running, reason: "guest attached") }
    }

    /// The guest's session ended. A missed heartbeat means the guest is hung: kill it so the restart
    /// policy takes over. Other reasons (the process exiting) arrive through the exit callback.
    package func guestDetached(reason: DetachReason) {
        guard reason == .heartbeatMissed, let process, !process.hasExited else { return }
        lastReason = "missed heartbeat"
        crashReason = "missed heartbeat (no traffic for 3 x \(partition.heartbeatMs ?? 0) ms)"
        try? process.kill(signal: SignalNumber.kill)
    }

    private var crashReason: String?

    /// The image on probation failed a health check: kill its guest; the exit is reported as that failure.
    package func failProbation(reason: String) {
        guard let process, !process.hasExited else { return }
        crashReason = reason
        try? process.kill(signal: SignalNumber.kill)
    }
    /// The command of the last start when it came from a software slot (`statusJSON` shows what runs).
    private var startedCommand: [String]?

    // MARK: Process life

    private func spawn(reason: String) {
        var environment = CurrentProcess.environment
        for entry in launch.environment {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            environment[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        environment["HANDSETHUB_GUEST_ENDPOINT"] = hub.guestEndpointForChildren?.description ?? ""
        environment["HANDSETHUB_PARTITION"] = partition.name
        environment["HANDSETHUB_SECRET"] = partition.secret
        let argv: [String]
        // A partition with software slots runs its active slot's image (`Protocols/management.md` §"Images").
        let slot = launch.qemu == nil ? hub.softwareSlots?.willStart(partition: partition.name) : nil
        if let qemu = launch.qemu {
            guard let built = qemuCommand(qemu) else {
                crashed(reason: "cannot start QEMU: \(qemuProblem)")
                return
            }
            argv = built
        } else {
            argv = slot?.command ?? launch.command
        }
        startedCommand = slot?.command
        let options = ChildProcess.Options(
            executable: argv[0], arguments: Array(argv.dropFirst()), environment: environment,
            workingDirectory: slot?.workingDirectory ?? launch.workingDirectory)
        do {
            stopping = false
            crashReason = nil
            let child = try ChildProcess(
                loop: hub.loop, options: options,
                onStdout: { [weak self] bytes in self?.output(bytes) },
                onStderr: { [weak self] bytes in self?.output(bytes) },
                onExit: { [weak self] status, signal in self?.exited(status: status, signal: signal) })
            process = child
            transition(to: .starting, reason: reason)
            if launch.qemu != nil {
                // A QEMU guest does not speak the guest protocol: it runs once QEMU does.
                transition(to: .running, reason: "QEMU started (pid \(child.processID))")
            }
            resources = ResourceReport.apply(to: child.processID, partition: partition)
            for item in resources.notApplied {
                logger.notice("\(partition.name): \(item.what) not applied: \(item.reason)")
            }
            attachTimer?.close()
            attachTimer = nil
            // A restart does not end a suspension (`Protocols/guest.md` §9.2): the new process is stopped at
            // once, before it attaches, and continued by `partition.resume`.
            if partitionSuspended {
                try? child.kill(signal: SignalNumber.stop)
                transition(to: .suspended, reason: "\(reason); started stopped: the partition is suspended")
                return
            }
            guard launch.qemu == nil else { return }
            armAttachTimer()
        } catch {
            lastExit = nil
            let why = "cannot start \(argv[0]): \(error)"
            if !probationFailed(reason: why) { crashed(reason: why) }
        }
    }

    /// A started guest that has not attached within `attachTimeoutMs` is killed (and restarted by the policy).
    private func armAttachTimer() {
        attachTimer?.close()
        attachTimer = nil
        guard launch.qemu == nil else { return }
        attachTimer = try? Timer.once(loop: hub.loop, afterMilliseconds: UInt64(launch.attachTimeoutMs)) {
            [weak self] in
            guard let self, self.state == .starting else { return }
            self.crashReason = "failed to attach within \(self.launch.attachTimeoutMs) ms"
            try? self.process?.kill(signal: SignalNumber.kill)
        }
    }

    private var qemuProblem = ""

    /// QEMU's command line for a `qemu` launch: the NIC on the configured stream port, the serial line on
    /// the console (the log) or the partition's modem. Nil, with `qemuProblem` set, when a piece is missing.
    private func qemuCommand(_ qemu: QemuLaunch) -> [String]? {
        let nic = qemu.nic.split(separator: "/").map(String.init)
        guard nic.count == 2, let endpoint = hub.ethernetStreamEndpoint(segment: nic[0], port: nic[1]) else {
            qemuProblem = "the stream port \(qemu.nic) is not listening"
            return nil
        }
        let netdev: String
        switch endpoint {
        case .unix(let path): netdev = "stream,id=n0,server=off,addr.type=unix,addr.path=\(path)"
        case .tcp(let host, let port):
            netdev = "stream,id=n0,server=off,addr.type=inet,addr.host=\(host),addr.port=\(port)"
        }
        var device = "virtio-net-pci,netdev=n0"
        if let mac = qemu.mac { device += ",mac=\(mac)" }
        var argv = [
            qemu.binary, "-machine", "q35", "-m", "\(qemu.memoryMiB)", "-display", "none", "-monitor", "none",
            "-no-reboot", "-kernel", qemu.kernel, "-append", qemu.append, "-netdev", netdev, "-device", device,
        ]
        if let initrd = qemu.initrd { argv += ["-initrd", initrd] }
        switch qemu.serial {
        case .console:
            argv += ["-serial", "stdio"]
        case .modem:
            let modem = hub.configuration.devices.modems.first { $0.owner == partition.name }
            let path = modem?.listen.compactMap { endpoint -> String? in
                if case .unix(let path) = endpoint { return path }
                return nil
            }.first
            guard let path else {
                qemuProblem = "\(partition.name) has no modem with a unix listen endpoint"
                return nil
            }
            argv += ["-serial", "unix:\(path)"]
        }
        return argv + qemu.extraArguments
    }

    private func output(_ bytes: ArraySlice<UInt8>) {
        log.append(bytes)
        logFile?.write(bytes)
    }

    private func exited(status: Int64, signal: Int32) {
        lastExit = (status, signal)
        attachTimer?.close()
        attachTimer = nil
        killTimer?.close()
        killTimer = nil
        let how = signal != 0 ? "killed by signal \(signal)" : "exited with status \(status)"
        if pendingRestart {
            pendingRestart = false
            spawn(reason: "\(lastReason) (previous guest \(how))")
            return
        }
        if stopping {
            stopping = false
            transition(to: .stopped, reason: "\(lastReason) (\(how))")
            return
        }
        // An image on probation that exits at all, cleanly or not, has failed it.
        if probationFailed(reason: crashReason ?? "guest \(how)") { return }
        let clean = status == 0 && signal == 0 && crashReason == nil
        if clean && partition.restart.mode != .always {
            transition(to: .stopped, reason: "guest \(how)")
            return
        }
        crashed(reason: crashReason ?? "guest \(how)")
    }

    /// A failure of an image on probation: started again (after the initial back-off) while attempts remain,
    /// else the previous slot is started at once (`Protocols/management.md` §"Images", probation). False when
    /// the partition is not on probation, so the restart policy applies.
    private func probationFailed(reason: String) -> Bool {
        guard launch.qemu == nil, let decision = hub.softwareSlots?.failed(partition: partition.name, reason: reason)
        else { return false }
        switch decision {
        case .notOnProbation:
            return false
        case .retry:
            transition(to: .crashed, reason: reason)
            transition(to: .restarting, reason: "image on probation: start it again")
            restarts += 1
            backoffTimer?.close()
            backoffTimer = try? Timer.once(
                loop: hub.loop, afterMilliseconds: UInt64(partition.restart.backoffInitialMs)
            ) {
                [weak self] in
                guard let self, self.state == .restarting else { return }
                self.spawn(reason: "probation retry after: \(reason)")
            }
        case .rolledBack:
            transition(to: .crashed, reason: reason)
            restarts += 1
            spawn(reason: "rolled back to the previous image after: \(reason)")
        }
        return true
    }

    /// Applies the restart policy: back-off, restart, or give up.
    private func crashed(reason: String) {
        transition(to: .crashed, reason: reason)
        let policy = partition.restart
        guard policy.mode != .never else {
            transition(to: .failed, reason: "restart policy is never; last failure: \(reason)")
            return
        }
        let now = MonotonicClock.nanoseconds()
        let window = UInt64(policy.windowSeconds) * 1_000_000_000
        restartTimes.removeAll { now - $0 > window }
        guard restartTimes.count < policy.maxRestarts else {
            transition(
                to: .failed,
                reason:
                    "restart budget spent: \(restartTimes.count) restarts in \(policy.windowSeconds) s; last failure: \(reason)"
            )
            return
        }
        // Exponential back-off by consecutive failures: a guest that keeps crashing waits longer, one that
        // had been running stably is restarted after the initial delay.
        if let since = runningSince, now - since >= Self.stableNanoseconds { consecutiveFailures = 0 }
        runningSince = nil
        let exponent = min(consecutiveFailures, 20)
        consecutiveFailures += 1
        let delay = min(policy.backoffMaxMs, policy.backoffInitialMs << exponent)
        restartTimes.append(now)
        restarts += 1
        transition(to: .restarting, reason: "restart \(restartTimes.count) of \(policy.maxRestarts) in \(delay) ms")
        backoffTimer?.close()
        backoffTimer = try? Timer.once(loop: hub.loop, afterMilliseconds: UInt64(delay)) { [weak self] in
            guard let self, self.state == .restarting else { return }
            self.spawn(reason: "restart after: \(reason)")
        }
    }

    private func transition(to next: State, reason: String) {
        guard next != state else { return }
        if next == .running && runningSince == nil { runningSince = MonotonicClock.nanoseconds() }
        let from = state
        state = next
        lastReason = reason
        logger.info("\(partition.name): \(from.rawValue) -> \(next.rawValue): \(reason)")
        hub.publishSupervisorEvent(
            "partition.state", partition: partition.name,
            data: ["from": .string(from.rawValue), "to": .string(next.rawValue), "reason": .string(reason)])
    }

    package func clearLog() { log.clear() }

    package var statusJSON: JSON {
        [
            "state": .string(state.rawValue),
            "reason": .string(lastReason),
            "pid": processID.map { .int(Int64($0)) } ?? .null,
            "restarts": .uint(restarts),
            "lastExit": lastExit.map { ["status": .int($0.status), "signal": .int(Int64($0.signal))] } ?? .null,
            "command": .array((startedCommand ?? launch.command).map { .string($0) }),
            "resources": resources.json,
            "logFile": logFile.map { file in
                [
                    "path": .string(file.path), "maxBytes": .int(Int64(file.maxBytes)),
                    "bytes": .int(Int64(file.bytes)),
                    "rotations": .uint(file.rotations), "lastError": file.lastError.map { .string("\($0)") } ?? .null,
                ]
            } ?? .null,
        ]
    }
}
