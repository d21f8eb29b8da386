import PlatformConfig
import PlatformConfigLoader
import Testing

@Suite struct ReferenceDocTests {
    /// Every key the encoder can write must be documented, so new fields cannot ship undocumented.
    @Test func everyKeyIsDocumented() throws {
        let doc = try TestFiles.readText(TestFiles.repositoryRoot + "/Deploy/config-reference.md")
        var config = try PlatformConfiguration.load(yaml: baseYAML)
        config.hub.controlToken = "0123456789abcdef"
        config.partitions[0].heartbeatMs = 100
        config.partitions[1].secretFile = "b.secret"
        config.devices.modems[0].pin = "1234"
        config.devices.modems[0].backend = .remote(.unix(path: "/tmp/modem.sock"))
        config.devices.modems[0].backendCommandTimeoutMs = 750
        var store = ManagementAuthorityConfig(name: "store", keys: [String(repeating: "a", count: 64)])
        store.budget = ProvisioningBudget(namePrefix: "store-", devices: ["fb0"], peers: ["b"])
        config.management.authorities = [store]
        var keys: Set<String> = []
        for line in config.encodeYAML().split(separator: "\n") where !line.hasPrefix("#") {
            var text = line.drop(while: { $0 == " " || $0 == "-" })
            guard let colon = text.firstIndex(of: ":") else { continue }
            text = text[..<colon]
            keys.insert(String(text))
        }
        #expect(keys.count > 50)
        #expect(keys.contains("secret") && keys.contains("remote") && keys.contains("writeLowWatermarkBytes"))
        #expect(keys.contains("namePrefix") && keys.contains("maxMemoryBytes"))
        for key in keys.sorted() {
            #expect(doc.contains("`\(key)`"), "\(key) is not in Deploy/config-reference.md")
        }
    }
}
