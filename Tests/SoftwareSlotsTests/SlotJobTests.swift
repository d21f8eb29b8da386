import Foundation
import HubSystem
import JSON
import SoftwareSlots
import Testing

/// The split of each software operation into `start` (engine thread), the job's file work (any thread: the hub
/// runs it off its loop) and `finish` (engine thread: the switch) (`Protocols/management.md` §"Images").
@Suite struct SlotJobTests {
    let scratch = Scratch()
    let host = FakeSlotHost()

    func engine() throws -> SoftwareSlots {
        try SoftwareSlots(
            stateDirectory: "\(scratch.root)/state", partitions: ["linux"], settings: SlotSettings(), host: host)
    }

    /// Runs the job on a thread of its own, as the hub's worker does, and waits for its outcome.
    func runOnAnotherThread(_ job: SlotJob) -> SlotJob.Outcome {
        let box = OutcomeBox()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            box.outcome = job.run()
            done.signal()
        }
        thread.start()
        done.wait()
        return box.outcome!
    }

    func work(_ start: SlotStart) throws -> SlotJob {
        guard case .work(let job) = start else {
            Issue.record("expected file work, got \(start)")
            throw CancellationError()
        }
        return job
    }

    func refusal(_ start: SlotStart) -> SlotRefusal.Code? {
        guard case .done(.failure(let refusal)) = start else { return nil }
        return refusal.code
    }

    @Test func anUpgradesFileWorkChangesNothingTheEngineShowsUntilFinish() throws {
        let slots = try engine()
        let image = try scratch.bundle(version: 2)
        let request = SlotRequest.upgrade(bundle: image.path, digest: image.digest, version: 2, downgrade: false)
        let job = try work(slots.start(request, partition: "linux"))
        #expect(slots.running == ["linux"])
        let outcome = runOnAnotherThread(job)
        // The copy is in slot a and the journal says it is being written, but nothing switched yet.
        #expect(FileManager.default.fileExists(atPath: "\(scratch.root)/state/software/linux/slot-a/bin/run"))
        #expect(slots.state(of: "linux")?.active == .configured)
        #expect(host.relaunches.isEmpty && host.events.isEmpty)
        let report = try slots.finish(outcome).get()
        #expect(report.active == .a && report.probation && report.version == 2)
        #expect(slots.running.isEmpty)
        #expect(slots.state(of: "linux")?.writing == nil)
        #expect(host.relaunches.count == 1 && host.topics() == ["software.probation"])
    }

    @Test func everyOtherOperationOnThePartitionIsRefusedWhileOneRuns() throws {
        let slots = try engine()
        let image = try scratch.bundle(version: 2)
        let job = try work(
            slots.start(
                .upgrade(bundle: image.path, digest: image.digest, version: nil, downgrade: false), partition: "linux"))
        for request in [
            SlotRequest.upgrade(bundle: image.path, digest: image.digest, version: nil, downgrade: false),
            .rollback(reason: "test"), .backup, .install(bundle: image.path, digest: image.digest),
            .remove(name: "maps"),
        ] {
            #expect(refusal(slots.start(request, partition: "linux")) == .inProgress)
        }
        #expect(slots.statusJSON["partitions"]?["linux"]?["operationRunning"] == .bool(true))
        _ = try slots.finish(job.run()).get()
        #expect(slots.statusJSON["partitions"]?["linux"]?["operationRunning"] == .bool(false))
        #expect(slots.statusJSON["counters"]?["refusals"]?["inProgress"] == .uint(5))
        // Once finished, the next operation starts.
        let next = try work(slots.start(.backup, partition: "linux"))
        _ = try slots.finish(next.run()).get()
    }

    /// File work that ends after the hub began stopping is not switched to; the next start forgets the slot it
    /// wrote and runs what ran before.
    @Test func anUpgradeFinishedAfterStopIsNotSwitchedTo() throws {
        let slots = try engine()
        let image = try scratch.bundle(version: 2)
        let job = try work(
            slots.start(
                .upgrade(bundle: image.path, digest: image.digest, version: 2, downgrade: false), partition: "linux"))
        let outcome = runOnAnotherThread(job)
        slots.stop()
        guard case .failure(let refusal) = slots.finish(outcome) else {
            Issue.record("switched after stop")
            return
        }
        #expect(refusal.code == .interrupted)
        #expect(slots.state(of: "linux")?.active == .configured && slots.state(of: "linux")?.writing == .a)
        #expect(host.relaunches.isEmpty)
        let restarted = try engine()
        #expect(restarted.state(of: "linux")?.active == .configured)
        #expect(restarted.state(of: "linux")?.writing == nil && restarted.state(of: "linux")?.images[.a] == nil)
    }

    @Test func rollbackBackupAndInstallCheckAndCopyInTheirFileWork() throws {
        let slots = try engine()
        for version in [UInt64(2), 3] {
            let image = try scratch.bundle(version: version)
            _ = try slots.upgrade(
                partition: "linux", bundle: image.path, expectedDigest: image.digest, version: version
            )
            .get()
            slots.markGood(partition: "linux")
        }
        let backup = try work(slots.start(.backup, partition: "linux"))
        #expect(!FileManager.default.fileExists(atPath: "\(scratch.root)/state/software/linux/backup"))
        #expect(try slots.finish(runOnAnotherThread(backup)).get().active == .b)
        #expect(FileManager.default.fileExists(atPath: "\(scratch.root)/state/software/linux/backup/bin/run"))
        let maps = try scratch.bundle(name: "maps", version: 1)
        let install = try work(slots.start(.install(bundle: maps.path, digest: maps.digest), partition: "linux"))
        _ = try slots.finish(runOnAnotherThread(install)).get()
        #expect(slots.optionalSoftware("linux") == ["maps"])
        let rollback = try work(slots.start(.rollback(reason: "test"), partition: "linux"))
        let checked = runOnAnotherThread(rollback)
        #expect(slots.state(of: "linux")?.active == .b)
        #expect(try slots.finish(checked).get().active == .a)
        // A rollback whose slot no longer matches its digest is refused by its check.
        try Data("damaged".utf8).write(to: URL(fileURLWithPath: "\(scratch.root)/state/software/linux/slot-b/data.txt"))
        let damaged = try work(slots.start(.rollback(reason: "test"), partition: "linux"))
        guard case .failure(let refusal) = slots.finish(runOnAnotherThread(damaged)) else {
            Issue.record("rolled back to a damaged slot")
            return
        }
        #expect(refusal.code == .noPrevious)
    }
}

private final class OutcomeBox: @unchecked Sendable {
    var outcome: SlotJob.Outcome?
}
