import HubSystem
import JSON
import PlatformConfig

/// What the hub applied to a launched guest's process from its partition's class, weight and memory,
/// and what it could not apply and why: reported, never silently skipped (`Deploy/config-reference.md`,
/// partitions[].launch; `Protocols/control.md` §10.2).
package struct ResourceReport {
    package struct Item {
        package var what: String
        package var detail: String
    }

    package struct Refusal {
        package var what: String
        package var reason: String
    }

    package var applied: [Item] = []
    package var notApplied: [Refusal] = []

    package init() {}

    /// `SCHED_FIFO` priority for a real-time partition: 0 → 90 … 15 → 15.
    package static func fifoPriority(_ priority: Int) -> Int32 { Int32(max(1, min(99, 90 - 5 * priority))) }

    /// Nice value for a fair-share partition when no cgroup is available: weight 100 → 0, 200 → −5, 50 → 5.
    package static func niceValue(weight: Int) -> Int32 {
        let value = -5.0 * CMath.log2(Double(max(1, weight)) / 100.0)
        return Int32(max(-10, min(19, value.rounded())))
    }

    package static let cgroupRoot = "/sys/fs/cgroup"

    package static func apply(to pid: Int32, partition: PartitionConfig) -> ResourceReport {
        var report = ResourceReport()
        let cgroup = report.joinCgroup(pid: pid, partition: partition)
        switch partition.schedulingClass {
        case .realTime:
            let priority = fifoPriority(partition.priority)
            do {
                try Scheduling.setRealTime(pid: pid, priority: priority)
                report.applied.append(Item(what: "scheduler", detail: "SCHED_FIFO priority \(priority)"))
            } catch {
                report.notApplied.append(
                    Refusal(what: "scheduler SCHED_FIFO \(priority)", reason: describe(error.code)))
            }
        case .fairShare:
            if cgroup, report.write("\(cgroupRoot)/handsethub/\(partition.name)/cpu.weight", "\(partition.weight)") {
                report.applied.append(Item(what: "cpu.weight", detail: "\(partition.weight)"))
            } else {
                let nice = niceValue(weight: partition.weight)
                do {
                    try Scheduling.setNice(pid: pid, nice)
                    report.applied.append(Item(what: "nice", detail: "\(nice) (from weight \(partition.weight))"))
                } catch {
                    report.notApplied.append(Refusal(what: "nice \(nice)", reason: describe(error.code)))
                }
            }
        }
        if cgroup, report.write("\(cgroupRoot)/handsethub/\(partition.name)/memory.max", "\(partition.memoryBytes)") {
            report.applied.append(Item(what: "memory.max", detail: "\(partition.memoryBytes)"))
        } else if !cgroup {
            report.notApplied.append(
                Refusal(what: "memory limit \(partition.memoryBytes) bytes", reason: "no writable cgroup v2 hierarchy"))
        }
        return report
    }

    /// Puts the process in `/sys/fs/cgroup/handsethub/<partition>` when the hierarchy allows it.
    private mutating func joinCgroup(pid: Int32, partition: PartitionConfig) -> Bool {
        let base = "\(Self.cgroupRoot)/handsethub"
        let controllers = Self.read("\(Self.cgroupRoot)/cgroup.controllers") ?? ""
        guard controllers.contains("cpu"), controllers.contains("memory") else {
            notApplied.append(
                Refusal(what: "cgroup", reason: "no cgroup v2 cpu and memory controllers at \(Self.cgroupRoot)"))
            return false
        }
        try? Files.makeDirectory(base)
        _ = write("\(Self.cgroupRoot)/cgroup.subtree_control", "+cpu +memory")
        _ = write("\(base)/cgroup.subtree_control", "+cpu +memory")
        let group = "\(base)/\(partition.name)"
        do {
            try Files.makeDirectory(group)
        } catch  where error.code != SystemError.alreadyExists {
            notApplied.append(Refusal(what: "cgroup \(group)", reason: Self.describe(error.code)))
            return false
        } catch {}
        do {
            try Files.writeControl("\(group)/cgroup.procs", "\(pid)")
        } catch {
            notApplied.append(
                Refusal(what: "cgroup \(group)", reason: "cannot move the process: \(Self.describe(error.code))"))
            return false
        }
        applied.append(Item(what: "cgroup", detail: group))
        return true
    }

    private mutating func write(_ path: String, _ text: String) -> Bool {
        (try? Files.writeControl(path, text)) != nil
    }

    private static func read(_ path: String) -> String? {
        guard let bytes = try? Files.readSmall(path), !bytes.isEmpty else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    package static func describe(_ code: Int32) -> String {
        switch code {
        case SystemError.permissionDenied: return "not permitted (EPERM: needs CAP_SYS_NICE or root)"
        case SystemError.accessDenied: return "permission denied (EACCES)"
        case SystemError.readOnlyFileSystem: return "read-only file system (EROFS)"
        case SystemError.noSuchFile: return "no such file (ENOENT)"
        case SystemError.busy: return "busy (EBUSY)"
        default: return "errno \(code)"
        }
    }

    package var json: JSON {
        [
            "applied": .array(applied.map { ["what": .string($0.what), "detail": .string($0.detail)] }),
            "notApplied": .array(notApplied.map { ["what": .string($0.what), "reason": .string($0.reason)] }),
        ]
    }
}
