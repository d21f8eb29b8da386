import ControlWire
import DeviceKit
import DeviceKitTesting
import ErrorLog
import ErrorLogServer
import Foundation
import GuestWire
import JSON
import PlatformConfig
import Testing

/// The error-log device on a `FakeDeviceHost`, its files in a temporary state directory; a hub restart is
/// played by a second device over the same directory (`Protocols/errorlog.md`).
private final class Rig {
    let host: FakeDeviceHost
    let device: ErrorLogDevice
    let caller = FakeControlCaller()

    init(directory: String?, maxEntries: Int = 16, reportsPerSecond: Int = 1000, syncIntervalMs: Int = 1000) throws {
        var configuration = PlatformConfiguration.reference
        configuration.hub.stateDirectory = directory
        configuration.hub.limits.errorLogMaxEntries = maxEntries
        configuration.hub.limits.errorLogReportsPerSecond = reportsPerSecond
        configuration.hub.limits.errorLogSyncIntervalMs = syncIntervalMs
        host = try FakeDeviceHost(configuration: configuration)
        device = try ErrorLogDevice(configuration: configuration)
        try device.start(host: host)
    }

    func call(_ method: String, _ params: JSON) -> Result<JSON, ControlError> {
        switch caller.call(host.methods, method, params) {
        case .result(let json): .success(json)
        case .encodedResult(let text): .success((try? JSON.parse(text)) ?? .null)
        case .error(let error): .failure(error)
        case .deferred: .failure(.internalError("deferred"))
        }
    }

    func read(_ partition: String, since: Int = 0) -> JSON? {
        try? call("errors.read", ["partition": .string(partition), "since": .int(Int64(since))]).get()
    }

    func codes(_ partition: String) -> [String] {
        read(partition)?["entries"]?.arrayValue?.compactMap { $0["code"]?.stringValue } ?? []
    }

    deinit { _ = host.shutdown() }
}

/// A new directory under the system's temporary directory; each test removes its own when it ends.
private func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "errorlog-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct ErrorLogGlueTests {
    /// Entries written before a restart are there after it, with their sequence numbers; numbering goes on.
    @Test func entriesSurviveRestart() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let rig = try Rig(directory: directory)
            #expect(
                rig.device.guestReport(partition: "linux", severity: .error, code: "e1", text: "one")
                    == .recorded(sequence: 1))
            #expect(
                rig.device.guestReport(partition: "linux", severity: .warning, code: "e2", text: "two")
                    == .recorded(sequence: 2))
            #expect(rig.host.events.filter { $0.kind == "errors.appended" }.count == 2)
        }
        let again = try Rig(directory: directory)
        #expect(again.codes("linux") == ["e1", "e2"])
        #expect(
            again.device.guestReport(partition: "linux", severity: .info, code: "e3", text: "")
                == .recorded(sequence: 3))
    }

    /// A kill in the middle of an append (simulated: half a record at the end of the file) costs only that
    /// record; the file is repaired so later appends read back.
    @Test func tornTailIsRepairedOnLoad() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let rig = try Rig(directory: directory)
            _ = rig.device.guestReport(partition: "rtos", severity: .error, code: "kept", text: "")
        }
        let file = directory + "/errorlog/rtos.log"
        let handle = try #require(FileHandle(forWritingAtPath: file))
        handle.seekToEndOfFile()
        handle.write(Data([0, 0, 0, 40, 1, 2, 3, 4, 1, 0]))
        handle.closeFile()
        do {
            let rig = try Rig(directory: directory)
            #expect(rig.codes("rtos") == ["kept"])
            _ = rig.device.guestReport(partition: "rtos", severity: .error, code: "after", text: "")
            let status = try rig.call("errors.status", [:]).get()
            #expect(status["counters"]?["tornTailsRepaired"]?.intValue == 1)
        }
        #expect(try Rig(directory: directory).codes("rtos") == ["kept", "after"])
    }

    /// A file that is not an error log is set aside and the log starts empty: the hub still starts.
    @Test func unreadableFileIsSetAside() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/errorlog", withIntermediateDirectories: true)
        try Data("not a log".utf8).write(to: URL(fileURLWithPath: directory + "/errorlog/linux.log"))
        let rig = try Rig(directory: directory)
        #expect(rig.codes("linux") == [])
        #expect(FileManager.default.fileExists(atPath: directory + "/errorlog/linux.log.unreadable"))
        _ = rig.device.guestReport(partition: "linux", severity: .error, code: "fresh", text: "")
        #expect(try Rig(directory: directory).codes("linux") == ["fresh"])
    }

    /// The bound holds in memory and on disk across restarts; drops are counted; compaction keeps the file
    /// small.
    @Test func boundHoldsAcrossRestart() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let rig = try Rig(directory: directory, maxEntries: 16)
            for index in 1...50 {
                _ = rig.device.guestReport(partition: "linux", severity: .info, code: "c\(index)", text: "")
            }
            #expect(rig.read("linux")?["dropped"]?.intValue == 34)
        }
        let again = try Rig(directory: directory, maxEntries: 16)
        let page = try #require(again.read("linux"))
        #expect(page["entries"]?.arrayValue?.count == 16)
        #expect(page["oldest"]?.intValue == 35)
        #expect(page["dropped"]?.intValue == 34)
        let size = try FileManager.default.attributesOfItem(atPath: directory + "/errorlog/linux.log")[.size] as? Int
        #expect((size ?? .max) < 2 * 16 * 64 + 64)
    }

    @Test func resetEmptiesTheLogAndTheFile() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let rig = try Rig(directory: directory)
            for _ in 0..<3 { _ = rig.device.guestReport(partition: "secure", severity: .info, code: "x", text: "") }
            let reset = try rig.call("errors.reset", ["partition": "secure"]).get()
            #expect(reset["removed"]?.intValue == 3)
            #expect(rig.host.events.contains { $0.kind == "errors.reset" })
        }
        let again = try Rig(directory: directory)
        #expect(again.codes("secure") == [])
        #expect(again.read("secure")?["nextSequence"]?.intValue == 4)
    }

    @Test func preciseErrors() throws {
        let rig = try Rig(directory: nil)
        func reason(_ method: String, _ params: JSON) -> String? {
            if case .failure(let error) = rig.call(method, params) { return error.reason }
            return nil
        }
        #expect(reason("errors.read", ["partition": "nobody"]) == "no_such_partition")
        #expect(reason("errors.reset", ["partition": "nobody"]) == "no_such_partition")
        #expect(reason("errors.read", ["partition": "linux", "since": 5]) == "invalid_params")
        #expect(reason("errors.read", ["partition": "linux", "since": -1]) == "invalid_params")
        #expect(reason("errors.read", ["partition": "linux", "limit": 0]) == "invalid_params")
        #expect(reason("errors.read", ["partition": "linux", "limit": 1001]) == "invalid_params")
        #expect(reason("errors.read", ["partition": "linux", "extra": 1]) != nil)
        #expect(reason("errors.read", ["partition": "linux", "since": 1]) == nil)
        #expect(rig.read("linux")?["persistent"]?.boolValue == false)
    }

    /// More reports than `errorLogReportsPerSecond` in a burst are refused and counted; the bucket refills.
    @Test func reportsAreRateLimited() throws {
        let rig = try Rig(directory: nil, reportsPerSecond: 5)
        let start: UInt64 = 1_000_000_000
        var outcomes: [ErrorLogDevice.ReportOutcome] = []
        for _ in 0..<8 {
            outcomes.append(
                rig.device.guestReport(partition: "linux", severity: .info, code: "f", text: "", nowNanos: start))
        }
        #expect(outcomes.filter { $0 == .rateLimited }.count == 3)
        #expect(
            rig.device.guestReport(
                partition: "linux", severity: .info, code: "f", text: "", nowNanos: start + 1_000_000_000)
                != .rateLimited)
        #expect(rig.device.guestReport(partition: "no/such", severity: .info, code: "f", text: "") == .unknownPartition)
        let status = try rig.call("errors.status", [:]).get()
        #expect(status["counters"]?["reportsRateLimited"]?.intValue == 3)
    }

    /// The kinds the hub hands over: exactly the four `observe` records, not others of the same lengths (the
    /// check looks at a kind's length first).
    @Test func recordsExactlyTheFaultKinds() {
        for kind in ["partition.state", "partition.detached", "software.rolledBack", "mgmt.refused"] {
            #expect(ErrorLogDevice.records(kind), "\(kind)")
        }
        for kind in [
            "partition.stat_", "partition.attached", "software.installed", "mgmt.allowed", "software.rolledBacK",
            "irq.raised",
            "irq.latched", "", "partition.detached.",
        ] {
            #expect(!ErrorLogDevice.records(kind), "\(kind)")
        }
    }

    /// The hub's own faults come from its events: crash, failure, missed heartbeats, rollback, refused command.
    @Test func hubFaultsFromEvents() throws {
        let rig = try Rig(directory: nil)
        rig.device.observe(
            kind: "partition.state", partition: "linux",
            data: ["from": "running", "to": "crashed", "reason": "guest exited with status 3"])
        rig.device.observe(
            kind: "partition.state", partition: "linux", data: ["from": "crashed", "to": "restarting", "reason": ""])
        rig.device.observe(kind: "partition.detached", partition: "linux", data: ["reason": "heartbeat-missed"])
        rig.device.observe(kind: "partition.detached", partition: "linux", data: ["reason": "guest-requested"])
        rig.device.observe(
            kind: "software.rolledBack", partition: "linux",
            data: ["reason": "crashed on start", "from": "b", "to": "a", "automatic": true])
        rig.device.observe(
            kind: "mgmt.refused", partition: nil,
            data: [
                "target": "linux", "source": "control", "result": "expired", "operation": "upgrade",
                "authority": "designer", "detail": "",
            ])
        rig.device.observe(
            kind: "mgmt.refused", partition: nil,
            data: [
                "target": "", "source": "guest:mgmt", "result": "bad_envelope", "operation": "", "authority": "",
                "detail": "truncated",
            ])
        rig.device.observe(
            kind: "mgmt.refused", partition: nil, data: ["target": "", "source": "control", "result": "bad_envelope"])
        rig.device.observe(
            kind: "partition.state", partition: "rtos", data: ["to": "failed", "reason": "restart budget spent"])
        #expect(rig.codes("linux") == ["crashed", "heartbeat_missed", "rolled_back", "command_refused"])
        let entries = rig.read("linux")?["entries"]?.arrayValue ?? []
        #expect(entries.allSatisfy { $0["source"]?.stringValue == "hub" })
        #expect(entries.last?["text"]?.stringValue?.hasPrefix("expired: upgrade linux") == true)
        #expect(entries[2]["text"]?.stringValue?.contains("crashed on start") == true)
        #expect(rig.codes("mgmt") == ["command_refused"])
        #expect(rig.read("rtos")?["entries"]?[0]?["severity"]?.stringValue == "critical")
        #expect((try rig.call("errors.status", [:]).get())["counters"]?["unattributed"]?.intValue == 1)
    }

    /// `errors.wait` answers with the next matching entry.
    @Test func waitAnswersWithTheNextEntry() throws {
        let rig = try Rig(directory: nil)
        let params: JSON = ["timeoutMs": 10_000, "partition": "linux", "severity": "error"]
        guard case .deferred = rig.caller.call(rig.host.methods, "errors.wait", params) else {
            Issue.record("not deferred")
            return
        }
        _ = rig.device.guestReport(partition: "linux", severity: .info, code: "low", text: "")
        _ = rig.device.guestReport(partition: "rtos", severity: .error, code: "other", text: "")
        #expect(rig.caller.answers.isEmpty)
        _ = rig.device.guestReport(partition: "linux", severity: .critical, code: "high", text: "")
        #expect(rig.caller.answers.count == 1)
    }
}

/// A partition the configuration did not name (provisioned at run time) gets a log once the hub vouches for
/// it — its guest reports, or the hub publishes a fault of it — but never from a name in a peer's bytes.
@Suite struct ErrorLogRuntimePartitionTests {
    @Test func logsAppearForVouchedPartitionsOnly() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        #expect(
            rig.device.guestReport(partition: "store-app", severity: .error, code: "c", text: "")
                == .recorded(sequence: 1))
        rig.device.observe(kind: "partition.state", partition: "third-party", data: ["to": "crashed", "reason": "x"])
        rig.device.observe(
            kind: "mgmt.refused", partition: nil,
            data: ["target": "made-up", "source": "control", "result": "not_authorised"])
        #expect(rig.codes("store-app") == ["c"])
        #expect(rig.codes("third-party") == ["crashed"])
        #expect(rig.read("made-up") == nil)
        #expect(rig.device.guestReport(partition: "../etc", severity: .error, code: "c", text: "") == .unknownPartition)
        #expect(try Rig(directory: directory).codes("store-app") == [])  // not configured: not loaded at start
        let again = try Rig(directory: directory)
        _ = again.device.guestReport(partition: "store-app", severity: .info, code: "d", text: "")
        #expect(again.codes("store-app") == ["c", "d"])
    }
}

/// Appends are written at once and `fsync`ed together within `errorLogSyncIntervalMs` (one `fsync` per file
/// for a burst), and at stop.
@Suite struct ErrorLogSyncTests {
    private func syncs(_ rig: Rig) throws -> Int? {
        try rig.call("errors.status", [:]).get()["counters"]?["syncs"]?.intValue
    }

    @Test func burstIsSyncedOnceAndWrittenAtOnce() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory, syncIntervalMs: 5)
        for _ in 0..<3 { _ = rig.device.guestReport(partition: "linux", severity: .info, code: "b", text: "") }
        // Written before any sync: a second reader (a restarted hub) sees them.
        #expect(try Rig(directory: directory).codes("linux") == ["b", "b", "b"])
        #expect(try syncs(rig) == 0)
        let deadline = Date().addingTimeInterval(5)
        while try syncs(rig) == 0, Date() < deadline { rig.host.runPasses() }
        #expect(try syncs(rig) == 1)
        _ = rig.device.guestReport(partition: "rtos", severity: .info, code: "s", text: "")
        rig.device.stop()
        #expect(try syncs(rig) == 2)
    }
}
