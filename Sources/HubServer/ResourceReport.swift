import Glibc
import JSON
import PlatformConfig

/// What the hub applied to a launched guest's process from its partition's class, weight and memory,
/// and what it could not apply and why: reported, never silently skipped (`Deploy/config-reference.md`,
/// partitions[].launch; `Protocols/control.md` §10.2).
struct ResourceReport {
    struct Item {
        var what: String
        var detail: String
    }

    struct Refusal {
        var what: String
        var reason: String
    }

    var applied: [Item] = []
    var notApplied: [Refusal] = []

    /// `SCHED_FIFO` priority for a real-time partition: 0 → 90 … 15 → 15.
    static func fifoPriority(_ priority: Int) -> Int32 { Int32(max(1, min(99, 90 - 5 * priority))) }

    /// Nice value for a fair-share partition when no cgroup is available: weight 100 → 0, 200 → −5, 50 → 5.
    static func niceValue(weight: Int) -> Int32 {
        let value = -5.0 * log2(Double(max(1, weight)) / 100.0)
        return Int32(max(-10, min(19, value.rounded())))
    }

    static let cgroupRoot = "/sys/fs/cgroup"

    static func apply(to pid: Int32, partition: PartitionConfig) -> ResourceReport {
        var report = ResourceReport()
        let cgroup = report.joinCgroup(pid: pid, partition: partition)
        switch partition.schedulingClass {
        case .realTime:
            var parameters = sched_param()
            parameters.sched_priority = fifoPriority(partition.priority)
            if sched_setscheduler(pid, SCHED_FIFO, &parameters) == 0 {
                report.applied.append(
                    Item(what: "scheduler", detail: "SCHED_FIFO priority \(parameters.sched_priority)"))
            } else {
                report.notApplied.append(
                    Refusal(what: "scheduler SCHED_FIFO \(parameters.sched_priority)", reason: describe(errno)))
            }
        case .fairShare:
            if cgroup, report.write("\(cgroupRoot)/handsethub/\(partition.name)/cpu.weight", "\(partition.weight)") {
                report.applied.append(Item(what: "cpu.weight", detail: "\(partition.weight)"))
            } else {
                let nice = niceValue(weight: partition.weight)
                if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(pid), nice) == 0 {
                    report.applied.append(Item(what: "nice", detail: "\(nice) (from weight \(partition.weight))"))
                } else {
                    report.notApplied.append(Refusal(what: "nice \(nice)", reason: describe(errno)))
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
        mkdir(base, 0o755)
        _ = write("\(Self.cgroupRoot)/cgroup.subtree_control", "+cpu +memory")
        _ = write("\(base)/cgroup.subtree_control", "+cpu +memory")
        let group = "\(base)/\(partition.name)"
        if mkdir(group, 0o755) != 0 && errno != EEXIST {
            notApplied.append(Refusal(what: "cgroup \(group)", reason: Self.describe(errno)))
            return false
        }
        guard write("\(group)/cgroup.procs", "\(pid)") else {
            notApplied.append(
                Refusal(what: "cgroup \(group)", reason: "cannot move the process: \(Self.describe(errno))"))
            return false
        }
        applied.append(Item(what: "cgroup", detail: group))
        return true
    }

    private mutating func write(_ path: String, _ text: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }

    private static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }

    static func describe(_ code: Int32) -> String {
        switch code {
        case EPERM: return "not permitted (EPERM: needs CAP_SYS_NICE or root)"
        case EACCES: return "permission denied (EACCES)"
        case EROFS: return "read-only file system (EROFS)"
        case ENOENT: return "no such file (ENOENT)"
        case EBUSY: return "busy (EBUSY)"
        default: return "errno \(code)"
        }
    }

    var json: JSON {
        [
            "applied": .array(applied.map { ["what": .string($0.what), "detail": .string($0.detail)] }),
            "notApplied": .array(notApplied.map { ["what": .string($0.what), "reason": .string($0.reason)] }),
        ]
    }
}
