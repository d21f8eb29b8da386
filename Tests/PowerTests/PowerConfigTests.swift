import Foundation
import PlatformConfig
import PlatformConfigLoader
import Testing

/// Hostile power configurations are refused at load, each value with its path and a precise reason
/// (`Deploy/config-reference.md` §power).
@Suite struct PowerConfigTests {
    static let base = """
        platform: {name: p}
        partitions:
          - {name: rtos, class: real-time, priority: 0, memoryBytes: 4096, secret: s}
          - {name: linux, class: fair-share, priority: 8, memoryBytes: 4096, secret: t, maySuspend: [rtos]}

        """

    func issues(_ power: String) -> [String] {
        do {
            _ = try PlatformConfiguration.load(yaml: Self.base + power)
            return []
        } catch {
            return error.issues.map { "\($0.path): \($0.reason)" }
        }
    }

    @Test func aValidModelLoadsAndWritesBackEqual() throws {
        let yaml =
            Self.base + """
                power:
                  suspendAfterMs: 250
                  timeScale: 3600
                  battery: {capacityMwh: 12000.5, levelPercent: 42, chargeMw: 7500, charging: true}
                  platformDrawMw: {on: 150, idle: 25.5, suspend: 1}
                  partitionDrawMw:
                    default: {active: 200}
                    rtos: {active: 80, idle: 8, suspended: 0.5, off: 0}
                """
        let config = try PlatformConfiguration.load(yaml: yaml)
        #expect(config.power.capacityMwh == 12000.5)
        #expect(config.power.charging)
        #expect(config.power.defaultDraw.active == 200)
        #expect(config.power.defaultDraw.idle == PowerConfig().defaultDraw.idle)
        #expect(config.power.draw(of: "rtos").suspended == 0.5)
        #expect(config.power.draw(of: "linux").active == 200)
        #expect(config.partition(named: "linux")?.maySuspend == ["rtos"])
        #expect(try PlatformConfiguration.load(yaml: config.encodeYAML()) == config)
    }

    @Test func negativeNaNInfiniteAndHugeValuesAreRefusedWithTheirPaths() {
        #expect(
            issues("power:\n  battery: {capacityMwh: -5}\n") == ["power.battery.capacityMwh: -5.0 is below 1.0"])
        #expect(
            issues("power:\n  battery: {capacityMwh: .nan}\n") == [
                "power.battery.capacityMwh: '.nan' is not a number (NaN)"
            ])
        #expect(issues("power:\n  battery: {capacityMwh: .inf}\n") == ["power.battery.capacityMwh: '.inf' is infinite"])
        #expect(
            issues("power:\n  battery: {capacityMwh: 1e300}\n") == [
                "power.battery.capacityMwh: 1e+300 is above 10000000.0"
            ])
        #expect(
            issues("power:\n  battery: {capacityMwh: 1e999}\n") == [
                "power.battery.capacityMwh: '1e999' is too large (not a finite number)"
            ])
        #expect(
            issues("power:\n  battery: {levelPercent: 101}\n") == ["power.battery.levelPercent: 101.0 is above 100.0"])
        #expect(issues("power:\n  platformDrawMw: {idle: -0.5}\n") == ["power.platformDrawMw.idle: -0.5 is below 0.0"])
        #expect(
            issues("power:\n  partitionDrawMw: {rtos: {active: -.inf}}\n") == [
                "power.partitionDrawMw.rtos.active: '-.inf' is infinite"
            ])
        #expect(
            issues("power:\n  partitionDrawMw: {default: {off: 2000000}}\n") == [
                "power.partitionDrawMw.default.off: 2000000.0 is above 1000000.0"
            ])
        #expect(issues("power:\n  timeScale: 0\n") == ["power.timeScale: 0.0 is below 0.001"])
        #expect(issues("power:\n  suspendAfterMs: -1\n") == ["power.suspendAfterMs: -1 is outside 0...3600000"])
        #expect(
            issues("power:\n  battery: {chargeMw: lots}\n") == [
                "power.battery.chargeMw: expected a number, found 'lots'"
            ])
    }

    @Test func drawsForUnknownPartitionsAndBadMaySuspendAreRefused() {
        #expect(
            issues("power:\n  partitionDrawMw: {modem: {active: 1}}\n") == [
                "power.partitionDrawMw.modem: no partition named 'modem'"
            ])
        let selfSuspend = Self.base.replacingOccurrences(of: "maySuspend: [rtos]", with: "maySuspend: [linux, ghost]")
        do {
            _ = try PlatformConfiguration.load(yaml: selfSuspend)
            Issue.record("accepted")
        } catch {
            let texts = error.issues.map { "\($0.path): \($0.reason)" }
            #expect(texts.contains("partitions[1].maySuspend[0]: a partition cannot suspend itself"))
            #expect(texts.contains { $0.hasPrefix("partitions[1].maySuspend[1]:") })
        }
    }

    @Test func theModelInCodeIsCheckedToo() {
        var config = PowerConfig()
        config.capacityMwh = .nan
        config.defaultDraw.idle = -1
        let texts = config.validationIssues(partitionNames: []).map { "\($0.path): \($0.reason)" }
        #expect(
            texts == [
                "power.battery.capacityMwh: is not a number (NaN)",
                "power.partitionDrawMw.default.idle: -1.0 is below 0.0",
            ])
    }
}
