import DeviceKit
import EventLoop
import HubSystem
import JSON
import PlatformConfig
import SoftwareCommands
import SoftwareSlots

/// The hub's side of the software slots (`Protocols/management.md` §"Images"): restarts go to the partition's
/// supervisor, events to the event log, timers to the loop. The signed-command layer calls `slots` (the
/// executor API: `upgrade`, `rollback`, `backup`, `install`, `remove`) once a command is verified.
final class HubSoftware: SlotHost, SlotWorkRunner {
    private unowned let hub: Hub
    private(set) var slots: SoftwareSlots!
    /// Probation timers in flight (a fired one removes itself).
    private var timers: [UInt64: Timer] = [:]
    private var nextTimer: UInt64 = 0
    /// Whether the test hooks are on: `hub.software.testHooks` and `HANDSETHUB_TEST_HOOKS=1` both.
    let testHooks: Bool

    init(hub: Hub, stateDirectory: String) throws(SystemError) {
        self.hub = hub
        let settings = hub.configuration.hub.software
        testHooks = settings.testHooks && CurrentProcess.environment["HANDSETHUB_TEST_HOOKS"] == "1"
        let partitions = hub.configuration.partitions.filter { $0.launch != nil && $0.launch?.qemu == nil }
        slots = try SoftwareSlots(
            stateDirectory: stateDirectory, partitions: partitions.map(\.name),
            settings: SlotSettings(
                probationMs: settings.probationMs, maxStartAttempts: settings.maxStartAttempts,
                limits: ImageLimits(
                    maxManifestBytes: settings.maxManifestBytes, maxImageBytes: settings.maxImageBytes,
                    maxImageFiles: settings.maxImageFiles)),
            host: self, killPoint: testHooks ? CurrentProcess.environment["HANDSETHUB_TEST_KILL_AT"] : nil)
    }

    func relaunch(partition: String, launch: SlotLaunch?, reason: String) {
        guard let supervisor = hub.supervisors[partition] else { return }
        supervisor.restart(reason: reason)
    }

    func failProbation(partition: String, reason: String) {
        hub.supervisors[partition]?.failProbation(reason: reason)
    }

    func publish(_ topic: String, partition: String, data: JSON) {
        hub.publish(topic, partition: partition, data: data)
        // An automatic rollback undoes an accepted command: the error log and the management audit log say why
        // (`Protocols/management.md` §4).
        guard topic == "software.rolledBack", data["automatic"]?.boolValue == true else { return }
        let reason = data["reason"]?.stringValue ?? ""
        hub.logger.error("\(partition): software rolled back: \(reason)")
        hub.management?.recordOutcome(operation: "upgrade", target: partition, result: "rolled_back", detail: reason)
    }

    /// A slot operation's file work on libuv's thread pool, its end on the loop (`LoopWork`); inline only if the
    /// loop is already closed.
    func run(_ job: SlotJob, done: @escaping (SlotJob.Outcome) -> Void) {
        do { try LoopWork.run(on: hub.loop, { job.run() }, completion: done) } catch { done(job.run()) }
    }

    func schedule(afterMilliseconds milliseconds: Int, _ body: @escaping () -> Void) {
        let id = nextTimer
        nextTimer += 1
        timers[id] = try? Timer.once(loop: hub.loop, afterMilliseconds: UInt64(max(0, milliseconds))) {
            [weak self] in
            self?.timers[id] = nil
            body()
        }
    }

    func close() {
        for timer in timers.values { timer.close() }
        timers.removeAll()
    }
}

extension Hub {
    /// Opens the state directory's software slots (with the methods, before the supervisors start), so a
    /// partition's first start already runs from its active slot.
    func startSoftwareSlots() {
        guard let directory = configuration.hub.stateDirectory else { return }
        do {
            software = try HubSoftware(hub: self, stateDirectory: directory)
        } catch {
            logger.error("software slots disabled: cannot use the state directory \(directory): \(error)")
        }
    }

    /// Whether the partition's attached guest negotiated `mark-good` (`Protocols/guest.md` §9.4).
    package func marksGood(_ partition: String) -> Bool {
        guestSessions.values.contains { $0.partition == partition && $0.marksGood }
    }

    /// `software.status`, and the test-only `software.test.apply` (`Protocols/control.md`, software).
    func registerSoftwareMethods() {
        startSoftwareSlots()
        router.register([SoftwareMethods.status(software?.slots)])
        guard let software, software.testHooks else { return }
        logger.warning("test hooks are on: software.test.apply runs unsigned software operations")
        router.register([SoftwareMethods.testApply(software.slots, runner: software)])
    }
}
