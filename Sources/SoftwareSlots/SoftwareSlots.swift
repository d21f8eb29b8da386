import HubSystem
import JSON

/// A partition's launch command taken from a slot: the program resolved inside the slot's directory.
package struct SlotLaunch: Sendable, Equatable {
    package var command: [String]
    package var workingDirectory: String

    package init(command: [String], workingDirectory: String) {
        self.command = command
        self.workingDirectory = workingDirectory
    }
}

/// What the engine asks of the hub: restart a partition, publish events, arm timers. The hub's
/// implementation drives `PartitionSupervisor`; the tests' records what was asked, with a fake clock.
package protocol SlotHost: AnyObject {
    /// Restart `partition` now from `launch` (nil: its configured `launch` command).
    func relaunch(partition: String, launch: SlotLaunch?, reason: String)
    func publish(_ topic: String, partition: String, data: JSON)
    /// Ends the guest of an image on probation that failed a health check (it did not mark itself good): the
    /// hub kills it and then reports the failure through `failed(partition:reason:)`.
    func failProbation(partition: String, reason: String)
    /// Calls `body` once after `milliseconds`.
    func schedule(afterMilliseconds milliseconds: Int, _ body: @escaping () -> Void)
}

/// How the slots behave (`hub.software`, `Deploy/config-reference.md`).
package struct SlotSettings: Sendable, Equatable {
    package var probationMs: Int
    package var maxStartAttempts: Int
    package var limits: ImageLimits

    package init(probationMs: Int = 10_000, maxStartAttempts: Int = 3, limits: ImageLimits = ImageLimits()) {
        self.probationMs = probationMs
        self.maxStartAttempts = maxStartAttempts
        self.limits = limits
    }
}

/// Why a software operation was refused: a stable code and a detail (`Protocols/management.md` §"Images").
package struct SlotRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    package enum Code: String, Sendable {
        case notManaged, busy, versionRollback, versionMismatch, digestMismatch, imageInvalid, noPrevious,
            nothingToBackUp, notInstalled, storageFailed, inProgress, interrupted
    }
    package var code: Code
    package var detail: String
    /// The image refusal behind `imageInvalid` / `digestMismatch`, when there is one.
    package var image: ImageError?

    init(_ code: Code, _ detail: String, image: ImageError? = nil) {
        self.code = code
        self.detail = detail
        self.image = image
    }

    package var description: String { "\(code.rawValue): \(detail)" }
}

/// The answer of an accepted operation: the partition's slot state after it.
package struct SlotReport: Sendable, Equatable {
    package var partition: String
    package var active: SlotName
    package var version: UInt64?
    package var probation: Bool
}

/// What the supervisor does after a guest on probation failed.
package enum FailureDecision: Equatable {
    /// Not on probation: the restart policy applies as before.
    case notOnProbation
    /// Start the same image again (attempts remain).
    case retry(SlotLaunch?)
    /// The image failed its probation; start the previous one.
    case rolledBack(SlotLaunch?)
}

/// Two software slots per launched partition with probation and automatic fallback
/// (`Protocols/management.md` §"Images"). Every transition is journaled before it takes effect.
package final class SoftwareSlots {
    let root: String
    let settings: SlotSettings
    unowned let host: SlotHost
    /// A named point at which the process kills itself (tests only: `Protocols/management.md` §"Test hooks").
    let killPoint: String?
    var states: [String: SlotState] = [:]
    /// Bumped whenever a probation ends or restarts, so a stale probation timer does nothing.
    var generations: [String: Int] = [:]
    var counters = SlotCounters()
    /// Partitions with an operation whose file work is running (`start` to `finish`): at most one each.
    package internal(set) var running: Set<String> = []
    /// Set by `stop()`: file work that ends after it is not switched to (`interrupted`).
    package private(set) var stopping = false
    /// The file work's `Sendable` half, handed to jobs that run off the engine's thread.
    let files: SlotFiles

    /// `partitions`: the launched partitions (the others have no slots). Loads and repairs their journals.
    package init(
        stateDirectory: String, partitions: [String], settings: SlotSettings, host: SlotHost, killPoint: String? = nil
    ) throws(SystemError) {
        root = "\(stateDirectory)/software"
        self.settings = settings
        self.host = host
        self.killPoint = killPoint
        files = SlotFiles(root: root, limits: settings.limits, killPoint: killPoint)
        for partition in partitions {
            try FileTree.makeDirectories(directory(partition))
            states[partition] = try recover(partition)
        }
    }

    func directory(_ partition: String) -> String { files.directory(partition) }
    func slotPath(_ partition: String, _ slot: SlotName) -> String { files.slotPath(partition, slot) }

    /// The hub is stopping: file work still running is not switched to when it ends (`Protocols/management.md`
    /// §"Images", operations): the active slot stays as it was and a slot left `writing` is forgotten at the next
    /// start.
    package func stop() { stopping = true }

    /// The launch the partition's next start uses (nil: its configured command).
    package func launch(for partition: String) -> SlotLaunch? {
        guard let state = states[partition], state.active != .configured, let image = state.images[state.active]
        else { return nil }
        let path = slotPath(partition, state.active)
        return SlotLaunch(command: ["\(path)/\(image.launch[0])"] + image.launch.dropFirst(), workingDirectory: path)
    }

    package func state(of partition: String) -> SlotState? { states[partition] }

    // MARK: Journal

    /// Writes the partition's state durably (temporary file, fsync, rename, fsync of the directory), with
    /// the kill points on either side of the rename.
    func persist(_ partition: String, _ state: SlotState, point: String) throws(SystemError) {
        try files.writeJournal(partition, state, point: point)
        states[partition] = state
        reach(point)
    }

    func reach(_ point: String) { files.reach(point) }

    /// Reads the journal and repairs what a killed hub left: a slot half written is forgotten; an active
    /// image that no longer matches its digest is abandoned for the previous one.
    private func recover(_ partition: String) throws(SystemError) -> SlotState {
        let path = "\(directory(partition))/slots.json"
        Files.remove("\(path).tmp")
        guard FileTree.entry(path) != nil else { return SlotState() }
        let bytes = try FileTree.read(path, limit: 1 << 20)
        guard let json = try? JSON.parse(bytes), var state = SlotState(json: json) else {
            throw SystemError("parse \(path)", code: 22)
        }
        states[partition] = state
        if let writing = state.writing {
            state.writing = nil
            state.images[writing] = nil
            if state.previous == writing { state.previous = nil }
            try persist(partition, state, point: "recover.forgotWrite")
        }
        if state.active != .configured, !verify(partition, state.active, state.images[state.active]) {
            state = fallBack(state, reason: "active image \(state.active.rawValue) does not match its digest")
            try persist(partition, state, point: "recover.fellBack")
        }
        return state
    }

    /// Whether the slot's content matches the digest recorded for it.
    func verify(_ partition: String, _ slot: SlotName, _ image: SlotImage?) -> Bool {
        files.verify(partition, slot, image)
    }

    /// The state with the previous slot active again (or the configured command) and the reason recorded.
    func fallBack(_ state: SlotState, reason: String) -> SlotState {
        var next = state
        next.active = state.previous ?? .configured
        next.previous = state.active == .configured ? nil : state.active
        next.probation = false
        next.attempts = 0
        next.lastRollback = reason
        return next
    }
}
