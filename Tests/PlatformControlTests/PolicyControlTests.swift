import ControlWire
import Events
import Hypervisor
import JSON
import PlatformConfig
import PlatformControl
import TestSupport
import Testing

/// The hub as `PolicyControl` sees it, recording every step in order.
private final class RecordingHost: PolicyControlHost {
    let configuration: PlatformConfiguration
    let platform: Platform
    var steps: [String] = []
    var suspended: Set<String> = []
    var failingPorts: Set<String> = []

    init(_ configuration: PlatformConfiguration) throws {
        self.configuration = configuration
        platform = try Platform(configuration: configuration, scheduler: ManualClock(), random: SeededRandomSource())
    }

    func perform(_ actions: inout [Action]) { actions.removeAll() }

    func publish(_ kind: String, partition: String?, device: String?, data: JSON) -> HubEvent {
        steps.append("event \(kind)")
        return HubEvent(
            seq: 1, time: EventTime(unixNs: 0, monoNs: 0), kind: kind, partition: partition, device: device, data: data)
    }

    func callMethod(_ name: String, params: JSON?) -> Result<JSON, ControlError> {
        let port = "\(params?["segment"]?.stringValue ?? "")/\(params?["port"]?.stringValue ?? "")"
        steps.append("\(name) \(port) \(params?["up"] == .bool(true) ? "up" : "down")")
        if failingPorts.contains(port) { return .failure(.conflict("port broken")) }
        return .success(["adminUp": params?["up"] ?? .null])
    }

    func setSuspended(_ partition: String, _ suspended: Bool, reason: String) -> Bool {
        steps.append("\(suspended ? "suspend" : "resume") \(partition)")
        return suspended ? self.suspended.insert(partition).inserted : self.suspended.remove(partition) != nil
    }

    func closeChannels(partition: String, device: String, code: UInt16, reason: String) -> Int {
        steps.append("close \(partition)/\(device) code \(code)")
        return 1
    }

    func notifyPolicyChanged(profile: String?, generation: UInt64, summary: (String) -> String) {
        steps.append("notify \(profile ?? "base") #\(generation) linux: \(summary("linux"))")
    }
}

/// `PolicyControl`'s switch (`Protocols/policy.md` §3): refusals change nothing; the steps run in the specified
/// order; only what a profile suspended or brought down is undone by the next switch.
@Suite struct PolicyControlTests {
    static func configuration() -> PlatformConfiguration {
        var config = PlatformConfiguration.reference
        config.policy = PolicyConfig(profiles: [
            PolicyProfile(
                name: "enterprise",
                partitions: [PartitionPolicyChange(partition: "linux", forbidMessage: ["secure"], revoke: ["lan0"])],
                suspend: ["mgmt", "secure"], ethernetDown: ["lan0/linux", "lan0/rtos"]),
            PolicyProfile(name: "home"),
        ])
        return config
    }

    @Test func theSwitchRunsItsStepsInOrder() throws {
        let host = try RecordingHost(Self.configuration())
        let policy = PolicyControl(host: host)
        host.suspended = ["secure"]  // suspended by hand before the profile
        let activation = try policy.activate("enterprise", by: "test")
        #expect(
            host.steps == [
                "close linux/lan0 code 5",
                "eth.setLink lan0/linux down", "eth.setLink lan0/rtos down",
                "notify enterprise #1 linux: may not message secure; lost lan0",
                "suspend mgmt", "suspend secure",
                "event policy.activated",
            ])
        #expect(activation.suspended == ["mgmt"])
        #expect(activation.channelsClosed == ["linux/lan0"])
        #expect(policy.suspendedByPolicy == ["mgmt"])
        #expect(host.platform.policy.profile == "enterprise")

        host.steps.removeAll()
        let back = try policy.activate("home", by: "test")
        #expect(
            host.steps == [
                "eth.setLink lan0/linux up", "eth.setLink lan0/rtos up", "resume mgmt",
                "notify home #2 linux: may message secure; granted lan0(shared)", "event policy.activated",
            ])
        // secure was suspended by hand: the switch back leaves it suspended.
        #expect(back.resumed == ["mgmt"] && host.suspended == ["secure"])
        #expect(policy.suspendedByPolicy.isEmpty && policy.portsDownByPolicy.isEmpty)
    }

    @Test func refusalsChangeNothing() throws {
        let host = try RecordingHost(Self.configuration())
        let policy = PolicyControl(host: host)
        #expect(throws: PolicyActivationError.unknownProfile("roaming")) { try policy.activate("roaming", by: "test") }
        #expect(host.steps.isEmpty && policy.generation == 0 && policy.refusals == 1)
        #expect(host.platform.policy == EffectivePolicy.base(host.configuration))
    }

    /// A port that cannot be brought down is reported and not recorded as the profile's, so switching back does
    /// not bring up a port the profile never brought down; the rest of the switch stands.
    @Test func aFailedStepIsReportedAndNotUndoneLater() throws {
        let host = try RecordingHost(Self.configuration())
        host.failingPorts = ["lan0/rtos"]
        let policy = PolicyControl(host: host)
        let activation = try policy.activate("enterprise", by: "test")
        #expect(activation.portsDown == ["lan0/linux"])
        #expect(activation.failures.count == 1 && activation.failures[0].hasPrefix("lan0/rtos:"))
        #expect(policy.portsDownByPolicy == ["lan0/linux"])
        host.steps.removeAll()
        host.failingPorts = []
        try policy.activate(nil, by: "test")
        #expect(host.steps.filter { $0.hasPrefix("eth.setLink") } == ["eth.setLink lan0/linux up"])
    }

    /// A profile's `linkRates` reach the model in the switch, and are said: `changes.ratesChanged` in the answer
    /// and event, the clause in the ends' `POLICY_CHANGED`, every link's budget in `policy.status`'s effective
    /// policy; switching back restores the base budget.
    @Test func rateChangesAreAppliedAndReported() throws {
        var config = Self.configuration()
        config.policy.profiles.append(
            PolicyProfile(
                name: "slow",
                linkRates: [
                    ProfileLinkRate(link: "rtos-linux", limit: LinkRateLimit(messagesPerSecond: 5, burstMessages: 2))
                ]))
        let host = try RecordingHost(config)
        let policy = PolicyControl(host: host)
        let activation = try policy.activate("slow", by: "test")
        #expect(host.steps.contains("notify slow #1 linux: rate of rtos-linux: 5 msg/s"))
        #expect(
            host.platform.snapshot().link("rtos-linux")?.aToB.rateLimit
                == LinkRateLimit(
                    messagesPerSecond: 5, burstMessages: 2))
        let changes = PolicyControl.activationJSON(activation)["changes"]?["ratesChanged"]
        #expect(changes?[0]?["link"] == "rtos-linux" && changes?[1] == nil)
        #expect(changes?[0]?["from"]?["messagesPerSecond"] == 0 && changes?[0]?["from"]?["burstMessages"] == .null)
        #expect(changes?[0]?["to"]?["messagesPerSecond"] == 5 && changes?[0]?["to"]?["burstMessages"] == 2)
        #expect(changes?[0]?["to"]?["bytesPerSecond"] == 0 && changes?[0]?["to"]?["burstBytes"] == .null)
        let rates = PolicyControl.policyJSON(host.platform.policy)["linkRates"]
        #expect(rates?.arrayValue?.count == config.links.count)
        let shown = rates?.arrayValue?.first { $0["link"] == "rtos-linux" }
        #expect(shown?["rate"]?["messagesPerSecond"] == 5)

        let back = try policy.activate(nil, by: "test")
        #expect(back.diff.ratesChanged.map(\.to) == [.unlimited])
        #expect(host.platform.snapshot().link("rtos-linux")?.aToB.rateLimit == nil)
    }
}
