import Foundation
import PlatformConfig
import PlatformConfigLoader
import Testing

/// One edit of `baseYAML` and the exact issues it must produce.
struct Mutation: Sendable, CustomTestStringConvertible {
    let replacing: String
    let with: String
    let expected: [String]

    var testDescription: String { expected.first ?? "no issue" }

    var yaml: String {
        precondition(baseYAML.components(separatedBy: replacing).count == 2, "'\(replacing)' must occur once")
        return baseYAML.replacingOccurrences(of: replacing, with: with)
    }
}

extension String {
    /// Foundation-free single replacement for the test table.
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        components(separatedBy: target).joined(separator: replacement)
    }

    func components(separatedBy separator: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(self)
        while let range = rest.firstRange(of: separator) {
            parts.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}

@Suite struct ValidationTests {
    @Test func baseIsValid() throws {
        let config = try PlatformConfiguration.load(yaml: baseYAML)
        #expect(config.validate() == [])
        #expect(config.partitions.count == 2)
    }

    static let rules: [Mutation] = [
        // Ranges.
        Mutation(
            replacing: "priority: 0", with: "priority: 17", expected: ["partitions[0].priority: 17 is outside 0...15"]
        ),
        Mutation(
            replacing: "priority: 8", with: "priority: -1", expected: ["partitions[1].priority: -1 is outside 0...15"]
        ),
        Mutation(
            replacing: "priority: 8", with: "priority: 8\n    weight: 0",
            expected: ["partitions[1].weight: 0 is outside 1...10000"]),
        Mutation(
            replacing: "priority: 8", with: "priority: 8\n    interruptLines: 2000",
            expected: ["partitions[1].interruptLines: 2000 is outside 1...1024"]),
        Mutation(
            replacing: "priority: 8", with: "priority: 8\n    heartbeatMs: 5",
            expected: ["partitions[1].heartbeatMs: 5 is outside 10...600000"]),
        Mutation(
            replacing: "memoryBytes: 1MiB\n    secret: b", with: "memoryBytes: 10000\n    secret: b",
            expected: ["partitions[1].memoryBytes: 10000 is not a multiple of the 4096-byte page"]),
        Mutation(
            replacing: "memoryBytes: 1MiB\n    secret: b", with: "memoryBytes: 128GiB\n    secret: b",
            expected: ["partitions[1].memoryBytes: 137438953472 is outside 4096...68719476736"]),
        Mutation(
            replacing: "priority: 8", with: "priority: 8\n    restart: {backoffInitialMs: 500, backoffMaxMs: 100}",
            expected: ["partitions[1].restart.backoffInitialMs: 500 is above backoffMaxMs (100)"]),
        Mutation(
            replacing: "priority: 8", with: "priority: 8\n    restart: {maxRestarts: 1001, windowSeconds: 0}",
            expected: [
                "partitions[1].restart.maxRestarts: 1001 is outside 0...1000",
                "partitions[1].restart.windowSeconds: 0 is outside 1...86400",
            ]),
        Mutation(
            replacing: "{name: ab, a: a, b: b}", with: "{name: ab, a: a, b: b, depth: 0}",
            expected: ["links[0].depth: 0 is outside 1...65536"]),
        Mutation(
            replacing: "platform:\n", with: "hub:\n  limits: {guestMaxFrameBytes: 1KiB}\nplatform:\n",
            expected: [
                "links[0].maxMessageBytes: 4096 does not fit in a guest frame (hub.limits.guestMaxFrameBytes minus 64)"
            ]),
        Mutation(
            replacing: "sizeBytes: 4KiB", with: "sizeBytes: 6000",
            expected: ["regions[0].sizeBytes: 6000 is not a multiple of the 4096-byte page"]),
        Mutation(
            replacing: "- name: lan0", with: "- name: lan0\n      mtu: 40",
            expected: ["devices.ethernet[0].mtu: 40 is outside 68...65535"]),
        Mutation(
            replacing: "{name: fb0, width: 320, height: 240}",
            with: "{name: fb0, width: 0, height: 240, bitsPerPixel: 24}",
            expected: [
                "devices.framebuffers[0].width: 0 is outside 1...8192",
                "devices.framebuffers[0].bitsPerPixel: 24 is not 16 or 32",
            ]),
        Mutation(
            replacing: "backend: builtin", with: "backend: builtin, pin: 12a",
            expected: ["devices.modems[0].pin: a PIN is 4 to 8 digits"]),
        // Secrets.
        Mutation(replacing: "secret: a-secret", with: "secret: \"\"", expected: ["partitions[0].secret: is empty"]),
        Mutation(
            replacing: "secret: a-secret", with: "secret: a-secret\n    secretFile: /etc/a",
            expected: ["partitions[0].secretFile: cannot be combined with secret"]),
        Mutation(
            replacing: "secret: a-secret", with: "secretFile: /nonexistent/handsethub/a.secret",
            expected: [
                "partitions[0].secretFile: cannot open '/nonexistent/handsethub/a.secret': No such file or directory"
            ]),
        // Names.
        Mutation(
            replacing: "- name: b", with: "- name: a",
            expected: [
                // b no longer exists, so every reference to it is reported too; all in file order.
                "partitions[0].mayInterrupt[0]: unknown partition 'b'",
                "partitions[0].mayMessage[0]: unknown partition 'b'",
                "partitions[1].name: duplicate partition name 'a' (also partitions[0].name)",
                "links[0].b: unknown partition 'b'",
                "regions[0].grants[1].partition: unknown partition 'b'",
            ]),
        Mutation(
            replacing: "- name: b", with: "- name: \"B b\"",
            expected: [
                "partitions[0].mayInterrupt[0]: unknown partition 'b'",
                "partitions[0].mayMessage[0]: unknown partition 'b'",
                "partitions[1].name: 'B b' is not a valid name (a letter, then letters, digits, '-' or '_', at most 32)",
                "links[0].b: unknown partition 'b'",
                "regions[0].grants[1].partition: unknown partition 'b'",
            ]),
        Mutation(
            replacing: "{name: ab, a: a, b: b}", with: "{name: ab, a: a, b: b}\n  - {name: ab, a: b, b: a}",
            expected: [
                "links[1]: b and a are already joined by links[0]",
                "links[1].name: duplicate link name 'ab' (also links[0].name)",
            ]),
        Mutation(
            replacing: "{name: fb0, width: 320, height: 240}", with: "{name: lan0, width: 320, height: 240}",
            expected: [
                "partitions[0].devices[0].device: unknown device 'fb0'",
                "partitions[1].devices[0].device: unknown device 'fb0'",
                "devices.framebuffers[0].name: duplicate device name 'lan0' (also devices.ethernet[0].name)",
            ]),
        Mutation(
            replacing: "    doorbellLine: 3", with: "    doorbellLine: 3\n  - {name: r, sizeBytes: 4096, grants: []}",
            expected: [
                "regions[1].name: duplicate region name 'r' (also regions[0].name)",
                "regions[1].grants: a region needs at least one grant",
            ]),
        // References.
        Mutation(
            replacing: "mayInterrupt: [b]", with: "mayInterrupt: [b, zz, a, b]",
            expected: [
                "partitions[0].mayInterrupt[1]: unknown partition 'zz'",
                "partitions[0].mayInterrupt[2]: a partition cannot interrupt itself",
                "partitions[0].mayInterrupt[3]: 'b' is listed twice",
            ]),
        Mutation(
            replacing: "mayMessage: [b]", with: "mayMessage: [b, ghost]",
            expected: ["partitions[0].mayMessage[1]: unknown partition 'ghost'"]),
        Mutation(
            replacing: "links:\n  - {name: ab, a: a, b: b}", with: "links: []",
            expected: ["partitions[0].mayMessage[0]: no link joins a and b"]),
        Mutation(
            replacing: "{name: ab, a: a, b: b}", with: "{name: ab, a: a, b: c}\n  - {name: aa, a: a, b: a}",
            expected: [
                "partitions[0].mayMessage[0]: no link joins a and b",
                "links[0].b: unknown partition 'c'",
                "links[1].b: a link cannot join a to itself",
            ]),
        Mutation(
            replacing: "{partition: b, access: ro}", with: "{partition: c, access: ro}",
            expected: ["regions[0].grants[1].partition: unknown partition 'c'"]),
        Mutation(
            replacing: "memoryBytes: 1MiB\n    secret: b-secret",
            with: "memoryBytes: 1MiB\n    secret: b-secret\n    interruptLines: 2",
            expected: ["regions[0].doorbellLine: 3 is not below the interruptLines of b (2)"]),
        Mutation(
            replacing: "doorbellLine: 3", with: "doorbellLine: 32",
            expected: [
                "regions[0].doorbellLine: 32 is not below the interruptLines of a (32)",
                "regions[0].doorbellLine: 32 is not below the interruptLines of b (32)",
            ]),
        Mutation(
            replacing: "owner: a", with: "owner: b",
            expected: ["devices.modems[0].owner: b has no grant for modem0"]),
        Mutation(
            replacing: "owner: a", with: "owner: nobody",
            expected: ["devices.modems[0].owner: unknown partition 'nobody'"]),
        Mutation(
            replacing: "{name: p0, partition: a}", with: "{name: p0, partition: a}\n        - {name: p1, partition: b}",
            expected: ["devices.ethernet[0].ports[1].partition: b has no grant for lan0"]),
        Mutation(
            replacing: "{name: p0, partition: a}", with: "{name: p0, partition: x}\n        - {name: p0}",
            expected: [
                "devices.ethernet[0].ports[0].partition: unknown partition 'x'",
                "devices.ethernet[0].ports[1].name: duplicate port name 'p0' (also devices.ethernet[0].ports[0].name)",
            ]),
        Mutation(
            replacing: "      - {device: fb0, access: shared}\nlinks",
            with: "      - {device: fb9, access: shared}\n      - {device: lan0, access: shared}\n"
                + "      - {device: lan0, access: shared}\nlinks",
            expected: [
                "partitions[1].devices[0].device: unknown device 'fb9'",
                "partitions[1].devices[2].device: 'lan0' is granted twice",
            ]),
        Mutation(
            replacing: "      - {device: fb0, access: shared}\nlinks",
            with: "      - {device: modem0, access: shared}\nlinks",
            expected: ["partitions[1].devices[0]: modem0 is dedicated to a (partitions[0].devices[2])"]),
        Mutation(
            replacing: "      - {device: fb0, access: shared}\n      - {device: lan0",
            with: "      - {device: fb0, access: dedicated}\n      - {device: lan0",
            expected: ["partitions[1].devices[0]: fb0 is dedicated to a (partitions[0].devices[0])"]),
        // Hub.
        Mutation(
            replacing: "platform:\n",
            with: "hub:\n  controlEndpoints: [tcp:0.0.0.0:7400, \"tcp:[::1]:7400\"]\nplatform:\n",
            expected: ["hub.controlEndpoints[0]: tcp:0.0.0.0:7400 is not loopback, so hub.controlToken is required"]),
        Mutation(
            replacing: "platform:\n",
            with: "hub:\n  controlEndpoints: [tcp:192.168.1.2:7400]\n  controlToken: short\nplatform:\n",
            expected: ["hub.controlToken: is shorter than 16 characters"]),
        Mutation(
            replacing: "platform:\n",
            with: "hub:\n  controlEndpoints: [unix:/tmp/x.sock, tcp:127.0.0.1:0]\n"
                + "  guestEndpoints: [unix:/tmp/x.sock, tcp:127.0.0.1:0]\nplatform:\n",
            expected: ["hub.guestEndpoints[0]: unix:/tmp/x.sock is already used by hub.controlEndpoints[0]"]),
        Mutation(
            replacing: "platform:\n", with: "hub:\n  handshakeTimeoutMs: 1\nplatform:\n",
            expected: ["hub.handshakeTimeoutMs: 1 is outside 100...600000"]),
        Mutation(
            replacing: "platform:\n",
            with: "hub:\n  limits:\n    controlMaxClients: 0\n    writeLowWatermarkBytes: 8MiB\nplatform:\n",
            expected: [
                "hub.limits.controlMaxClients: 0 is outside 1...65536",
                "hub.limits.writeLowWatermarkBytes: 8388608 is not below writeHighWatermarkBytes (4194304)",
            ]),
        Mutation(
            replacing: "platform:\n", with: "hub:\n  controlEndpoints: [http://x]\nplatform:\n",
            expected: ["hub.controlEndpoints[0]: 'http://x' must start with 'tcp:' or 'unix:'"]),
        // Shapes and types.
        Mutation(
            replacing: "priority: 0", with: "prioritty: 0",
            expected: ["partitions[0].priority: required key is missing", "partitions[0].prioritty: unknown key"]),
        Mutation(
            replacing: "platform:\n", with: "colour: blue\nplatform:\n", expected: ["colour: unknown key"]),
        Mutation(
            replacing: "platform:\n", with: "hub:\n  limits: {guestMaxSesions: 3}\nplatform:\n",
            expected: ["hub.limits.guestMaxSesions: unknown key"]),
        Mutation(
            replacing: "priority: 8", with: "priority: 8\n    restart: {mode: sometimes, tries: 3}",
            expected: [
                "partitions[1].restart.mode: 'sometimes' is not one of never, on-failure, always",
                "partitions[1].restart.tries: unknown key",
            ]),
        Mutation(
            replacing: "priority: 0", with: "priority: high",
            expected: ["partitions[0].priority: expected an integer, found 'high'"]),
        Mutation(
            replacing: "priority: 0", with: "priority: \"0\"",
            expected: ["partitions[0].priority: expected an integer, found the string \"0\""]),
        Mutation(
            replacing: "priority: 0", with: "priority: 99999999999999999999",
            expected: ["partitions[0].priority: expected an integer, found '99999999999999999999'"]),
        Mutation(
            replacing: "priority: 8", with: "priority: 8\n    allowTakeover: yes",
            expected: ["partitions[1].allowTakeover: expected true or false, found 'yes'"]),
        Mutation(
            replacing: "mayInterrupt: [b]", with: "mayInterrupt: b",
            expected: ["partitions[0].mayInterrupt: expected a list, found 'b'"]),
        Mutation(
            replacing: "mayInterrupt: [b]", with: "mayInterrupt: [[b]]",
            expected: ["partitions[0].mayInterrupt[0]: expected a string, found a list"]),
        Mutation(
            replacing: "{partition: b, access: ro}", with: "{partition: b, access: write}",
            expected: ["regions[0].grants[1].access: 'write' is not one of ro, rw"]),
        Mutation(
            replacing: "{device: fb0, access: shared}\nlinks", with: "fb0\nlinks",
            expected: ["partitions[1].devices[0]: expected a mapping, found 'fb0'"]),
        Mutation(
            replacing: "memoryBytes: 1MiB\n    secret: a", with: "memoryBytes: 1 MB\n    secret: a",
            expected: [
                "partitions[0].memoryBytes: expected a size such as 4096, 512KiB, 64MiB or 1GiB, found '1 MB'"
            ]),
        Mutation(
            replacing: "backend: builtin", with: "backend: {remote: \"tcp:10.1.1.1\"}",
            expected: ["devices.modems[0].backend.remote: 'tcp:10.1.1.1' needs a port: tcp:HOST:PORT"]),
        Mutation(
            replacing: "backend: builtin", with: "backend: simulator",
            expected: [
                "devices.modems[0].backend: expected builtin, {remote: ENDPOINT} or {listen: ENDPOINT}, found 'simulator'"
            ]),
        Mutation(
            replacing: "backend: builtin", with: "backend: {listen: \"tcp:0.0.0.0:7601\"}",
            expected: [
                "devices.modems[0].backend.listen: tcp:0.0.0.0:7601 is not loopback, so a token is required "
                    + "(backend: {listen: …, token: …})"
            ]),
        Mutation(
            replacing: "backend: builtin", with: "backend: {listen: \"tcp:127.0.0.1:7601\", remote: \"unix:/x\"}",
            expected: ["devices.modems[0].backend: expected exactly one of remote and listen"]),
        Mutation(
            replacing: "backend: builtin", with: "backend: builtin, limits: {smsCapacity: 0, maxCalls: 8}",
            expected: [
                "devices.modems[0].limits.smsCapacity: 0 is outside 1...255",
                "devices.modems[0].limits.maxCalls: 8 is outside 1...7",
            ]),
        Mutation(
            replacing: "backend: builtin",
            with:
                "backend: builtin, limits: {backendCommandTimeoutMs: 99, backendKeepaliveMs: 600001, "
                + "backendBacklogBytes: 4095}",
            expected: [
                "devices.modems[0].limits.backendCommandTimeoutMs: 99 is outside 100...600000",
                "devices.modems[0].limits.backendKeepaliveMs: 600001 is outside 100...600000",
                "devices.modems[0].limits.backendBacklogBytes: 4095 is outside 4096...67108864",
            ]),
        Mutation(
            replacing: "- name: b\n    class: fair-share", with: "- class: fair-share",
            expected: [
                "partitions[0].mayInterrupt[0]: unknown partition 'b'",
                "partitions[0].mayMessage[0]: unknown partition 'b'",
                "partitions[1].name: required key is missing",
                "links[0].b: unknown partition 'b'",
                "regions[0].grants[1].partition: unknown partition 'b'",
            ]),
    ]

    @Test(arguments: rules)
    func rule(_ mutation: Mutation) {
        #expect(issues(mutation.yaml) == mutation.expected)
    }

    @Test func ruleTableCoversDistinctEdits() {
        #expect(Set(Self.rules.map(\.yaml)).count == Self.rules.count)
    }

    @Test func brokenExampleReportsExactlyItsThreeMistakes() throws {
        do {
            _ = try PlatformConfiguration.load(path: TestFiles.example("broken.yaml"))
            Issue.record("broken.yaml loaded")
        } catch {
            #expect(
                error.issues.map(\.description) == [
                    "partitions[1].priority: 17 is outside 0...15",
                    "partitions[1].mayInterrupt[1]: unknown partition 'modem'",
                    "partitions[2].name: duplicate partition name 'rtos' (also partitions[0].name)",
                ])
            #expect(error.issues.map(\.line) == [19, 22, 24])
            #expect(error.description.hasPrefix("invalid configuration: 3 errors\n"))
            #expect(error.description.contains("  partitions[1].priority: 17 is outside 0...15 (line 19, column 15)"))
        }
    }

    @Test func swiftBuiltModelsAreValidatedToo() {
        var config = PlatformConfiguration.reference
        config.partitions[0].priority = 16
        config.partitions[2].mayInterrupt.append("nobody")
        #expect(
            config.validate().map(\.description) == [
                "partitions[0].priority: 16 is outside 0...15",
                "partitions[2].mayInterrupt[2]: unknown partition 'nobody'",
            ])
    }
}
