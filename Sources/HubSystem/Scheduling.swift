import CHubSystem

/// The kernel's CPU scheduling policy of the hub's threads and its launched guests (`sched(7)`).
package enum Scheduling {
    /// Puts `pid` (0: the calling thread) at `SCHED_FIFO` `priority` (1 to 99). With `resetOnFork` the
    /// processes it forks start at normal scheduling (`SCHED_RESET_ON_FORK`). EPERM without CAP_SYS_NICE
    /// or a large enough RLIMIT_RTPRIO.
    package static func setRealTime(pid: Int32 = 0, priority: Int32, resetOnFork: Bool = false) throws(SystemError) {
        guard hub_sched_set_fifo(pid, priority, resetOnFork ? 1 : 0) == 0 else { throw .last("sched_setscheduler") }
    }

    /// Puts `pid` (0: the calling thread) back at normal scheduling (`SCHED_OTHER`), keeping
    /// `SCHED_RESET_ON_FORK` when asked (an unprivileged thread cannot clear it anyway).
    package static func setNormal(pid: Int32 = 0, resetOnFork: Bool = false) throws(SystemError) {
        guard hub_sched_set_other(pid, resetOnFork ? 1 : 0) == 0 else { throw .last("sched_setscheduler") }
    }

    /// What the calling thread has wanted of a CPU so far, in nanoseconds: the time it ran plus the time it spent
    /// runnable, waiting for a CPU (`/proc/thread-self/schedstat`). Unlike CPU time alone, this stays near the
    /// elapsed time for a thread that always has work, however little CPU the scheduler grants it. Nil if the
    /// file cannot be read (a kernel without `CONFIG_SCHED_INFO`).
    package static func threadCPUDemandNanoseconds() -> UInt64? {
        let nanos = hub_thread_cpu_demand_nanos()
        return nanos >= 0 ? UInt64(nanos) : nil
    }

    /// Whether `pid` (0: the calling thread) runs at `SCHED_FIFO`.
    package static func isRealTime(pid: Int32 = 0) throws(SystemError) -> Bool {
        let result = hub_sched_is_fifo(pid)
        guard result >= 0 else { throw .last("sched_getscheduler") }
        return result == 1
    }

    /// Sets the nice value of process `pid` (`setpriority(PRIO_PROCESS)`); lowering it needs CAP_SYS_NICE.
    package static func setNice(pid: Int32, _ nice: Int32) throws(SystemError) {
        guard hub_set_nice(pid, nice) == 0 else { throw .last("setpriority") }
    }
}

/// Linux namespaces (`namespaces(7)`).
package enum Namespaces {
    /// Moves the calling thread alone into a new, empty network namespace (CAP_SYS_ADMIN): interfaces it
    /// creates afterwards (a tap) are invisible to the host and vanish with the namespace.
    package static func enterNewNetworkNamespace() throws(SystemError) {
        guard hub_unshare_network() == 0 else { throw .last("unshare(CLONE_NEWNET)") }
    }
}
