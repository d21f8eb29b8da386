import CUV
import Glibc

/// The process-wide open-file limit the hub raises at start and the listeners keep a reserve under. (The heap is
/// tuned and trimmed through `HubSystem.Memory`.)
package enum ProcessResources {
    /// The open-file limit before and after `raiseOpenFileLimit`.
    package struct OpenFileLimit: Sendable, Equatable {
        package var softBefore: UInt64
        package var soft: UInt64
        package var hard: UInt64
        /// Why the soft limit could not be raised (nil when it was, or already at the hard limit).
        package var failure: String?
    }

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit. Every connection costs a descriptor, and the
    /// default soft limit (1024) is reached by a thousand idle peers, after which every listener can only
    /// accept and drop; the hard limit is what the administrator granted (`LimitNOFILE` in the systemd unit).
    package static func raiseOpenFileLimit() -> OpenFileLimit {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            return OpenFileLimit(softBefore: 0, soft: 0, hard: 0, failure: "getrlimit: errno \(errno)")
        }
        let before = UInt64(limit.rlim_cur)
        let hard = UInt64(limit.rlim_max)
        guard limit.rlim_cur < limit.rlim_max else {
            return OpenFileLimit(softBefore: before, soft: before, hard: hard, failure: nil)
        }
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 {
            return OpenFileLimit(softBefore: before, soft: hard, hard: hard, failure: nil)
        }
        return OpenFileLimit(softBefore: before, soft: before, hard: hard, failure: "setrlimit: errno \(errno)")
    }

    /// The current open-file limits (soft, hard).
    package static func openFileLimit() -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (0, 0) }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// The process's resident set size in bytes (libuv reads `/proc/self/stat`), or nil when it cannot be read.
    package static func residentSetBytes() -> UInt64? {
        var bytes = 0
        guard uv_resident_set_memory(&bytes) == 0, bytes >= 0 else { return nil }
        return UInt64(bytes)
    }
}
