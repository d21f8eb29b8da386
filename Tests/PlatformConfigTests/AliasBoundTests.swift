import PlatformConfig
import PlatformConfigLoader
import Testing

/// YAML aliases are bounded while the document is composed (`ComposeLimits`): an alias chain used as a
/// mapping key made composing itself take minutes (with the former parser), and a large valid document tripped
/// the alias budget.
@Suite struct AliasBoundTests {
    /// `&a0 [x, x, ...]`, then each level lists the previous one `width` times: level n stands for width^n
    /// scalars, from a few hundred bytes.
    private func chain(levels: Int, width: Int = 9) -> String {
        var yaml = "a0: &a0 [" + Array(repeating: "x", count: width).joined(separator: ", ") + "]\n"
        for level in 1..<levels {
            yaml += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: width).joined(separator: ", ")
            yaml += "]\n"
        }
        return yaml
    }

    @Test func anAliasChainUsedAsAMappingKeyIsRefusedBeforeComposing() {
        // Ten levels as a key: composing would hash 9^10 nodes to look for duplicate keys.
        let yaml =
            "templates:\n" + chain(levels: 10).split(separator: "\n").map { "  \($0)\n" }.joined()
            + "platform: {name: x}\npartitions: []\nlookup:\n  *a9 : value\n"
        let found = loadIssues(yaml)
        #expect(found.map(\.reason).count == 1)
        #expect(found.first?.reason.hasPrefix("aliases expand the document by more than 100000 nodes") == true)
        // Under the budget, an alias key is still refused, with its position.
        let small = "anchors: &k [a, b]\nplatform: {name: x}\nmap:\n  *k : 1\n"
        let refused = loadIssues(small)
        #expect(refused.map(\.reason) == ["an alias (*k) cannot be a mapping key; write the key out"])
        #expect(refused.first?.line == 4 && refused.first?.column == 3)
    }

    @Test func anAliasChainUsedAsAValueStopsAtTheFirstAliasPastTheBudget() {
        let yaml =
            "platform: {name: x}\npartitions: []\ntemplates:\n"
            + chain(levels: 10).split(separator: "\n").map {
                "  \($0)\n"
            }.joined()
        let found = loadIssues(yaml)
        #expect(found.count == 1)
        // Levels 1-4 add 74,682 nodes; the first *a4 of level 5 (66,430 nodes) passes the budget.
        #expect(found.first?.reason.hasPrefix("aliases expand the document by more than 100000 nodes (at *a4") == true)
        #expect(found.first?.line == 9)
    }

    @Test func aFewAliasesForRepeatedBlocksStillLoad() throws {
        var yaml = "platform: {name: x}\npartitions:\n"
        yaml += "  - {name: a, class: real-time, priority: 0, memoryBytes: 4096, secret: s,\n"
        yaml += "     restart: &r {mode: always, maxRestarts: 3, windowSeconds: 60}}\n"
        yaml += "  - {name: b, class: real-time, priority: 1, memoryBytes: 4096, secret: s, restart: *r}\n"
        let config = try PlatformConfiguration.load(yaml: yaml)
        #expect(config.partitions.map(\.restart) == [config.partitions[0].restart, config.partitions[0].restart])
        #expect(config.partitions[1].restart.maxRestarts == 3)
    }

    /// A large document written out (no aliases) is not an alias expansion: 30,000 partitions load.
    @Test func aLargeDocumentWithoutAliasesLoads() throws {
        var yaml = "platform: {name: big}\npartitions:\n"
        yaml.reserveCapacity(3_000_000)
        for index in 0..<30_000 {
            yaml += "  - {name: p\(index), class: fair-share, priority: 8, memoryBytes: 4096, secret: s\(index)}\n"
        }
        let config = try PlatformConfiguration.load(yaml: yaml)
        #expect(config.partitions.count == 30_000)
        #expect(config.partitions.last?.name == "p29999")
    }
}
