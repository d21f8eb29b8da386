import Foundation
import GuestWire
import HubControlClient
import HubGuest
import JSON
import PlatformConfig
import Testing

/// The error logs in a whole hub (`Protocols/errorlog.md`): a guest with `error-log` reports through the Swift
/// client, one without it is refused `unknown_frame_type`; the `mgmt` agent reads the entry over the management
/// channel; the entry is still there after the hub restarts over the same state directory.
@Suite struct ErrorLogServerTests {
    static func configure(_ state: String) -> (inout PlatformConfiguration) -> Void {
        { configuration in
            configuration.hub.stateDirectory = state
            for index in configuration.partitions.indices where configuration.partitions[index].name == "mgmt" {
                configuration.partitions[index].mayManage = true
            }
        }
    }

    static func read(_ hub: HubHarness, _ partition: String) throws -> [String] {
        let client = try HubControlClient(address: "unix:\(hub.controlUnix)")
        let result = try client.call("errors.read", ["partition": .string(partition)])
        return result["entries"]?.arrayValue?.compactMap { $0["code"]?.stringValue } ?? []
    }

    @Test func reportedEntriesAreReadByMgmtAndSurviveRestart() throws {
        let state = "/tmp/hubtest-errorlog-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: state) }
        let hub = try HubHarness(configure: Self.configure(state))
        let linux = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "linux", secret: Array("linux-dev-secret".utf8),
            features: [GuestProtocol.errorLogFeature])
        #expect(linux.hubFeatures.contains(GuestProtocol.errorLogFeature))
        try linux.reportError(severity: .error, code: "app-crash", text: "com.example.app died")
        let rtos = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "rtos", secret: Array("rtos-dev-secret".utf8))
        #expect(
            throws: GuestClientError.rejected(
                code: .unknownFrameType, reason: "ERROR_REPORT needs the 'error-log' feature in HELLO")
        ) {
            try rtos.reportError(severity: .info, code: "x", text: "")
        }
        let mgmt = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "mgmt", secret: Array("mgmt-dev-secret".utf8))
        try mgmt.openManagementRelay(channel: 3)
        // An interrupt that reaches the agent while it waits for an answer stays queued for it.
        let control = try HubControlClient(address: "unix:\(hub.controlUnix)")
        _ = try control.call("irq.raise", ["partition": "mgmt", "line": 1, "as": "tester"])
        usleep(200_000)
        let answer = try mgmt.requestManagementLocal(#"{"operation":"errors.read","partition":"linux"}"#, channel: 3)
        #expect(answer.code == "accepted" && answer.output.contains("app-crash"))
        guard case .irq(line: 1, _, _)? = try mgmt.nextEvent(timeout: 2) else {
            Issue.record("the interrupt was lost while the agent waited")
            return
        }
        #expect(try Self.read(hub, "rtos") == [])
        linux.close()
        rtos.close()
        mgmt.close()
        #expect(hub.stop() == 0)

        let again = try HubHarness(configure: Self.configure(state))
        #expect(try Self.read(again, "linux") == ["app-crash"])
        #expect(again.stop() == 0)
    }

    /// A flood of reports is answered `rate_limited` beyond `errorLogReportsPerSecond`, and the session goes on.
    @Test func aFloodIsRateLimitedAndTheSessionGoesOn() throws {
        let hub = try HubHarness { configuration in configuration.hub.limits.errorLogReportsPerSecond = 2 }
        let linux = try GuestClient.connect(
            endpoint: "unix:\(hub.guestUnix)", partition: "linux", secret: Array("linux-dev-secret".utf8),
            features: [GuestProtocol.errorLogFeature])
        var refused = 0
        for index in 0..<10 {
            do throws(GuestClientError) {
                try linux.reportError(severity: .warning, code: "flood", text: "\(index)")
            } catch {
                guard case .rejected(.rateLimited, _) = error else { throw error }
                refused += 1
            }
        }
        #expect(refused >= 7)
        #expect(try Self.read(hub, "linux").count == 10 - refused)
        try linux.heartbeat(stamp: 1)
        linux.close()
        #expect(hub.stop() == 0)
    }
}
