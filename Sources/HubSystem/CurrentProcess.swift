import Glibc

/// The hub's own process: its id, its signal dispositions, the wall clock.
package enum CurrentProcess {
    /// The process id (`getpid`).
    package static var id: Int32 { getpid() }

    /// The process's environment variables (`environ`), for a child that inherits them.
    package static var environment: [String: String] {
        var result: [String: String] = [:]
        var index = 0
        // SAFETY: environ is a NULL-terminated array of C strings; nothing here changes the environment.
        while let entry = environ[index] {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            index += 1
        }
        return result
    }

    /// Ignores SIGPIPE for the whole process: a write to a peer that hung up then fails with EPIPE and costs
    /// that connection, not the process.
    package static func ignoreBrokenPipe() { signal(SIGPIPE, SIG_IGN) }

    /// Ignores SIGXFSZ for the whole process: a write past the file-size limit (`RLIMIT_FSIZE`, `ulimit -f`) then
    /// fails with EFBIG and costs that file (a capture, a log), not the process.
    package static func ignoreFileSizeLimit() { signal(SIGXFSZ, SIG_IGN) }
}

/// Signal numbers the hub sends or watches (`signal(7)`), so that callers need not import the C library.
package enum SignalNumber {
    package static let interrupt = SIGINT
    package static let terminate = SIGTERM
    package static let kill = SIGKILL
    package static let stop = SIGSTOP
    package static let resume = SIGCONT
}

/// The real-time (wall) clock, for timestamps shown to people and peers; intervals use the loop's clock.
package enum WallClock {
    /// Nanoseconds since the Unix epoch (`CLOCK_REALTIME`).
    package static func nanoseconds() -> UInt64 {
        var now = timespec()
        // SAFETY: the kernel writes one timespec into the local for the call.
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// A calendar date and time in UTC.
    package struct UTCTime: Equatable {
        package var year: Int
        package var month: Int
        package var day: Int
        package var hour: Int
        package var minute: Int
        package var second: Int
    }

    /// The UTC calendar time of `secondsSinceEpoch` (`gmtime_r`).
    package static func utc(secondsSinceEpoch: Int) -> UTCTime {
        var seconds = time_t(secondsSinceEpoch)
        var parts = tm()
        // SAFETY: gmtime_r reads one time_t and writes one tm, both locals alive for the call.
        gmtime_r(&seconds, &parts)
        return UTCTime(
            year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
            hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec))
    }
}
