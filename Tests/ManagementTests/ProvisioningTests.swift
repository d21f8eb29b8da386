import JSON
import ManagementWire
import PlatformConfig
import Testing

@testable import Management

/// The budget check and policy construction of `provision`/`deprovision` (`Protocols/management.md` §9).
@Suite struct ProvisioningTests {
    static let budget = ProvisioningBudget(
        namePrefix: "store-", maxPartitions: 2, maxMemoryBytes: 64 << 20, classes: [.fairShare], minPriority: 10,
        maxPriority: 15, devices: ["fb0"], peers: ["linux"])
    static let configured: Set<String> = ["rtos", "linux", "secure", "mgmt"]

    func command(
        _ operation: String = "provision", _ target: String = "store-app", authority: String = "store",
        _ parameters: [String: String] = ["memoryBytes": "4096"]
    ) -> ManagementCommand {
        ManagementCommand(
            operation: operation, target: target, authority: authority, counter: 1, expiresAtMs: 2,
            parameters: ManagementCodec.sortedParameters(parameters.map { ($0.key, $0.value) }))
    }

    func plan(
        _ command: ManagementCommand, provisioned: [ProvisionedPartition] = [],
        budget: ProvisioningBudget? = ProvisioningTests.budget
    ) -> Result<PartitionConfig, ManagementRefusal> {
        Provisioning.plan(
            command, budget: budget, existing: Self.configured, provisioned: provisioned, secret: "s3cret")
    }

    func code(_ result: Result<PartitionConfig, ManagementRefusal>) -> String {
        switch result {
        case .success: "accepted"
        case .failure(let refusal): refusal.code
        }
    }

    @Test func aSoftwareSHA256IsRefusedNotIgnored() {
        var provision = command()
        provision.softwareSHA256 = [UInt8](repeating: 7, count: 32)
        #expect(code(plan(provision)) == "bad_parameters")
        #expect(code(plan(command())) == "accepted")
        var deprovision = command("deprovision", "store-app", [:])
        let records = [record("store-app", memory: 4096)]
        #expect((try? Provisioning.checkDeprovision(deprovision, provisioned: records).get()) == 0)
        deprovision.softwareSHA256 = [UInt8](repeating: 7, count: 32)
        guard case .failure(let refusal) = Provisioning.checkDeprovision(deprovision, provisioned: records) else {
            Issue.record("deprovision with a software SHA-256 accepted")
            return
        }
        #expect(refusal.code == "bad_parameters")
    }

    func record(_ name: String, memory: UInt64, authority: String = "store") -> ProvisionedPartition {
        ProvisionedPartition(
            config: PartitionConfig(
                name: name, schedulingClass: .fairShare, priority: 12, memoryBytes: memory, secret: "x"),
            authority: authority, counter: 1, createdAtMs: 0)
    }

    @Test func policyIsDefaultDenyPlusTheGrants() throws {
        let config = try plan(
            command(
                "provision", "store-app",
                ["memoryBytes": "8192", "priority": "11", "mayInterrupt": "linux", "devices": "fb0"])
        ).get()
        #expect(config.name == "store-app" && config.secret == "s3cret" && config.memoryBytes == 8192)
        #expect(config.priority == 11 && config.schedulingClass == .fairShare)
        #expect(config.mayInterrupt == ["linux"] && config.mayMessage.isEmpty && !config.mayOpenLinks)
        #expect(config.devices == [DeviceGrant(device: "fb0", access: .shared)])
        #expect(!config.mayManage && !config.allowTakeover && config.launch == nil)
        // Without a priority the lowest the budget allows.
        #expect(try plan(command()).get().priority == 15)
    }

    @Test func hostileMemoryNumbersAreRefusedBeforeConversion() {
        for text in [
            "-4096", "", "4096.0", "0x1000", "+4096", " 4096", "4096 ", "99999999999999999999",
            "999999999999999999999999", "18446744073709551615", "18446744073709551616", "0", "4095", "4097",
        ] {
            #expect(code(plan(command("provision", "store-app", ["memoryBytes": text]))) == "bad_parameters", "\(text)")
        }
        #expect(code(plan(command("provision", "store-app", [:]))) == "bad_parameters")
        for text in ["-1", "16", "999", "1e1", "", "007"] {
            #expect(
                code(plan(command("provision", "store-app", ["memoryBytes": "4096", "priority": text])))
                    == "bad_parameters", "\(text)")
        }
    }

    @Test func memoryIsCountedAcrossTheAuthoritysPartitionsWithoutOverflow() {
        let half = record("store-a", memory: 32 << 20)
        let ask32 = command("provision", "store-b", ["memoryBytes": String(32 << 20)])
        #expect(code(plan(ask32, provisioned: [half])) == "accepted")
        let ask33 = command("provision", "store-b", ["memoryBytes": String(32 << 20 + 4096)])
        #expect(code(plan(ask33, provisioned: [half])) == "budget_exceeded")
        // A record near UInt64.max (a budget far larger than a configuration allows) must not wrap the sum.
        var huge = Self.budget
        huge.maxMemoryBytes = .max
        let giant = record("store-a", memory: .max - 4095)
        #expect(code(plan(ask32, provisioned: [giant], budget: huge)) == "budget_exceeded")
        // Another authority's partitions do not count against this budget.
        let theirs = record("other-a", memory: 64 << 20, authority: "other")
        #expect(code(plan(ask32, provisioned: [theirs])) == "accepted")
    }

    @Test func partitionCountIsBounded() {
        let two = [record("store-a", memory: 4096), record("store-b", memory: 4096)]
        #expect(code(plan(command("provision", "store-c"), provisioned: two)) == "budget_exceeded")
        #expect(code(plan(command("provision", "store-c"), provisioned: [two[0]])) == "accepted")
    }

    @Test func namesCollideWithConfiguredAndProvisionedPartitions() {
        var open = Self.budget
        open.namePrefix = "l"
        #expect(code(plan(command("provision", "linux"), budget: open)) == "name_taken")
        let existing = [record("store-app", memory: 4096)]
        #expect(code(plan(command("provision", "store-app"), provisioned: existing)) == "name_taken")
        // Outside the prefix (a configured name) or without a budget: not authorised.
        #expect(code(plan(command("provision", "rtos"))) == "not_authorised")
        #expect(code(plan(command("provision", "store-"))) == "not_authorised")
        #expect(code(plan(command(), budget: nil)) == "not_authorised")
    }

    @Test func grantsOutsideTheBudgetAreRefused() {
        let cases: [[String: String]] = [
            ["mayInterrupt": "secure"], ["mayMessage": "rtos"], ["devices": "modem0"], ["class": "real-time"],
            ["priority": "9"], ["mayMessage": "linux,rtos"],
        ]
        for extra in cases {
            let parameters = extra.merging(["memoryBytes": "4096"]) { a, _ in a }
            #expect(code(plan(command("provision", "store-app", parameters))) == "not_in_budget", "\(extra)")
        }
        for malformed: [String: String] in [
            ["mayMessage": "linux,linux"], ["mayMessage": "linux,"], ["mayMessage": "store-app"], ["class": "idle"],
            ["mayOpenLinks": "yes"], ["launch": "x"],
            [
                "mayMessage": Array(repeating: "linux", count: 65).enumerated().map { "p\($0.offset)" }.joined(
                    separator: ",")
            ],
        ] {
            let parameters = malformed.merging(["memoryBytes": "4096"]) { a, _ in a }
            #expect(code(plan(command("provision", "store-app", parameters))) == "bad_parameters", "\(malformed)")
        }
    }

    @Test func deprovisionOnlyWhatThisAuthorityProvisioned() {
        let records = [record("store-a", memory: 4096), record("other-a", memory: 4096, authority: "other")]
        func check(_ command: ManagementCommand) -> String {
            switch Provisioning.checkDeprovision(command, provisioned: records) {
            case .success(let index): "\(index)"
            case .failure(let refusal): refusal.code
            }
        }
        #expect(check(command("deprovision", "store-a", [:])) == "0")
        #expect(check(command("deprovision", "linux", [:])) == "not_provisioned")
        #expect(check(command("deprovision", "store-b", [:])) == "not_provisioned")
        #expect(check(command("deprovision", "other-a", [:])) == "not_authorised")
        #expect(check(command("deprovision", "store-a", ["force": "1"])) == "bad_parameters")
    }

    @Test func recordsRoundTripThroughTheStateFile() throws {
        var config = try plan(
            command("provision", "store-app", ["memoryBytes": "8192", "mayMessage": "linux", "mayOpenLinks": "true"])
        ).get()
        config.devices = [DeviceGrant(device: "fb0", access: .shared)]
        let records = [
            ProvisionedPartition(config: config, authority: "store", counter: 7, createdAtMs: 1_700_000_000_000)
        ]
        let text = Provisioning.json(records).serializedBytes()
        #expect(Provisioning.records(from: try JSON.parse(text)) == records)
        #expect(Provisioning.records(from: ["version": 2, "partitions": []]) == nil)
        let broken: JSON = ["version": 1, "partitions": [["name": "store-app", "memoryBytes": "-1"]]]
        #expect(Provisioning.records(from: broken) == nil)
        let twice = Provisioning.json(records + records)
        #expect(Provisioning.records(from: twice) == nil)
    }
}
