import JSON
import ManagementWire
import PlatformConfig
import Testing
import VectorSupport

@testable import Management

/// `ProvisioningExecutor` on a fake hub: the order of the state file and the model, the secret answered once.
@Suite struct ProvisioningExecutorTests {
    final class FakeHost: ProvisioningHost {
        var configuration: PlatformConfiguration
        var saved: [[ProvisionedPartition]] = []
        var failSave = false
        var refuseAdd = false
        var removed: [String] = []
        var events: [(String, JSON)] = []

        init() {
            configuration = .reference
            var store = ManagementAuthorityConfig(name: "store", keys: [String(repeating: "a", count: 64)])
            store.budget = ProvisioningBudget(namePrefix: "store-", maxPartitions: 1, peers: ["linux"])
            configuration.management.authorities = [store]
        }

        func addProvisionedPartition(_ config: PartitionConfig) -> ManagementRefusal? {
            if refuseAdd { return ManagementRefusal("name_taken", "a link") }
            configuration.partitions.append(config)
            return nil
        }
        func removeProvisionedPartition(_ name: String) -> JSON {
            removed.append(name)
            configuration.partitions.removeAll { $0.name == name }
            return ["detached": true, "linksRemoved": 0]
        }
        func publishProvisioning(_ kind: String, partition: String, data: JSON) { events.append((kind, data)) }
        var provisioningNowMs: UInt64 { 1_700_000_000_000 }
        func secretBytes(_ count: Int) -> [UInt8] { Array(repeating: 0xAB, count: count) }
        func saveProvisioned(_ records: [ProvisionedPartition]) -> ManagementRefusal? {
            if failSave { return ManagementRefusal("storage_failed", "disk full") }
            saved.append(records)
            return nil
        }
    }

    func run(_ executor: ProvisioningExecutor, _ operation: String, _ target: String, counter: UInt64 = 1)
        -> Result<JSON, ManagementRefusal>
    {
        let parameters: [(key: String, value: String)] = operation == "provision" ? [("memoryBytes", "8192")] : []
        let command = ManagementCommand(
            operation: operation, target: target, authority: "store", counter: counter, expiresAtMs: 2,
            parameters: parameters)
        return executor.execute(VerifiedCommand(command: command, mayDowngrade: false, source: "control"))
    }

    @Test func theSecretIsAnsweredOnceAndShownNowhereElse() throws {
        let host = FakeHost()
        let executor = ProvisioningExecutor(records: [], configuration: host.configuration)
        executor.host = host
        let answer = try run(executor, "provision", "store-app").get()
        let secret = try #require(answer["secret"]?.stringValue)
        #expect(secret == String(repeating: "ab", count: 32))
        #expect(host.configuration.partition(named: "store-app")?.secret == secret)
        #expect(host.saved.last?.first?.config.secret == secret)
        #expect(!"\(executor.statusJSON)".contains(secret))
        #expect(!host.events.contains { "\($0.1)".contains(secret) })
        #expect(executor.origin(of: "store-app")["provisionedBy"]?.stringValue == "store")
        #expect(executor.origin(of: "linux") == "configuration")
    }

    @Test func aStateFileThatCannotBeWrittenCreatesNothing() {
        let host = FakeHost()
        host.failSave = true
        let executor = ProvisioningExecutor(records: [], configuration: host.configuration)
        executor.host = host
        guard case .failure(let refusal) = run(executor, "provision", "store-app") else {
            Issue.record("accepted")
            return
        }
        #expect(refusal.code == "storage_failed")
        #expect(executor.records.isEmpty && host.configuration.partition(named: "store-app") == nil)
        #expect(host.events.isEmpty)
    }

    @Test func aModelRefusalRollsTheStateFileBack() {
        let host = FakeHost()
        host.refuseAdd = true
        let executor = ProvisioningExecutor(records: [], configuration: host.configuration)
        executor.host = host
        guard case .failure(let refusal) = run(executor, "provision", "store-app") else {
            Issue.record("accepted")
            return
        }
        #expect(refusal.code == "name_taken")
        #expect(executor.records.isEmpty && host.saved.last == [])
    }

    @Test func deprovisionForgetsOnDiskBeforeTheModelAndFreesTheBudget() throws {
        let host = FakeHost()
        let executor = ProvisioningExecutor(records: [], configuration: host.configuration)
        executor.host = host
        _ = try run(executor, "provision", "store-a").get()
        guard case .failure(let full) = run(executor, "provision", "store-b", counter: 2) else {
            Issue.record("over budget accepted")
            return
        }
        #expect(full.code == "budget_exceeded")
        host.failSave = true
        guard case .failure = run(executor, "deprovision", "store-a", counter: 3) else {
            Issue.record("deprovision without its state file accepted")
            return
        }
        #expect(host.removed.isEmpty && executor.records.count == 1)
        host.failSave = false
        #expect(try run(executor, "deprovision", "store-a", counter: 4).get()["detached"] == true)
        #expect(host.removed == ["store-a"] && host.saved.last == [])
        #expect(try run(executor, "provision", "store-b", counter: 5).get()["partition"] == "store-b")
        #expect(executor.counters["refused"] == 2 && executor.counters["deprovisioned"] == 1)
    }

    @Test func recordsShadowedByAConfiguredPartitionAreSetAside() {
        var configuration = PlatformConfiguration.reference
        configuration.partitions[0].name = "store-app"
        let record = ProvisionedPartition(
            config: PartitionConfig(
                name: "store-app", schedulingClass: .fairShare, priority: 12, memoryBytes: 4096, secret: "s"),
            authority: "store", counter: 1, createdAtMs: 0)
        let executor = ProvisioningExecutor(records: [record], configuration: configuration)
        #expect(executor.records.isEmpty && executor.shadowed == ["store-app"])
        #expect(executor.merged(into: configuration).partitions.count == configuration.partitions.count)
    }
}

/// `Protocols/vectors/management/provisioning.vectors`: the signed commands, verified and executed in file
/// order from fresh state, answer the codes the vectors give.
@Suite struct ProvisioningVectorTests {
    @Test func vectorsAnswerTheirCodesInOrder() throws {
        let set = try VectorSet("management/provisioning.vectors")
        #expect(set.vectors.count >= 12)
        let host = ProvisioningExecutorTests.FakeHost()
        var store = ManagementAuthorityConfig(name: "store", keys: [TestKeys.publicHex(0)])
        store.budget = ProvisioningBudget(
            namePrefix: "store-", maxPartitions: 2, maxMemoryBytes: 64 << 20, classes: [.fairShare], minPriority: 10,
            maxPriority: 15, devices: ["fb0"], peers: ["linux"])
        host.configuration.management.authorities = [store]
        // The vectors expire long after the time they are verified at: verified with the largest lifetime, as
        // Protocols/management.md §6 says of every vector set.
        host.configuration.management.maxCommandLifetimeMs = ManagementConfig.maxCommandLifetimeMsRange.upperBound
        var verifier = ManagementVerifier(config: host.configuration.management, persisted: nil)
        let executor = ProvisioningExecutor(records: [], configuration: host.configuration)
        executor.host = host
        for vector in set.vectors {
            let envelope = try ManagementCodec.decodeEnvelope(try vector.bytes()[...])
            let result: String
            switch verifier.verify(envelope, nowMs: 1_700_000_000_000, source: "control") {
            case .failure(let refusal): result = refusal.code
            case .success(let verified):
                verifier.accept(verified)
                switch executor.execute(verified) {
                case .success: result = "accepted"
                case .failure(let refusal): result = refusal.code
                }
            }
            #expect(result == vector["result"], "\(vector.name)")
        }
        #expect(executor.records.map(\.config.name) == ["store-two"])
        #expect(
            host.configuration.partition(named: "store-two")?.devices == [DeviceGrant(device: "fb0", access: .shared)])
    }
}
