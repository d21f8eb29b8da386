import Glibc
import HubSystem
import Testing

/// The system layer against the real kernel: each wrapper does what its system call promises, and a refusal
/// comes back as the operation and errno that failed.
@Suite struct HubSystemTests {
    @Test func aSealedMemfdRefusesWritesAndResizing() throws {
        let fd = try Memfd.create(name: "hubsystem-test", size: 4096)
        defer { Descriptors.close(fd) }
        #expect(try Descriptors.write(fd, [1, 2, 3]) == 3)
        try Memfd.seal(fd, [.shrink, .grow, .write])
        #expect(try Memfd.seals(of: fd) == [.shrink, .grow, .write])
        #expect(throws: SystemError("write", code: EPERM)) { try Descriptors.write(fd, [4]) }
        #expect(ftruncate(fd, 1) == -1 && errno == EPERM)
        #expect(ftruncate(fd, 8192) == -1 && errno == EPERM)
        try Memfd.seal(fd, .seal)
        #expect(throws: SystemError("F_ADD_SEALS", code: EPERM)) { try Memfd.seal(fd, .write) }
    }

    @Test func aSharedMappingSeesWritesThroughAReadOnlyReopen() throws {
        let fd = try Memfd.create(name: "hubsystem-map", size: 8192)
        defer { Descriptors.close(fd) }
        let mapping = try SharedMapping(fd: fd, count: 8192)
        #expect(mapping.bytes.count == 8192)
        mapping.bytes[5000] = 0xA5
        try Memfd.restrictToOwnerReading(fd)
        let reader = try Memfd.openReadOnly(fd)
        defer { Descriptors.close(reader) }
        var byte = [UInt8](repeating: 0, count: 1)
        #expect(pread(reader, &byte, 1, 5000) == 1)
        #expect(byte == [0xA5])
        #expect(throws: SystemError("write", code: EBADF)) { try Descriptors.write(reader, [1]) }
        #expect(try SharedMapping(fd: fd, count: 0).bytes.isEmpty)
    }

    @Test func aDescriptorCrossesASocketPairWithItsBytes() throws {
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { pair.forEach(Descriptors.close) }
        let memfd = try Memfd.create(name: "hubsystem-pass", size: 0)
        defer { Descriptors.close(memfd) }
        #expect(try Descriptors.write(memfd, Array("passed".utf8)) == 6)
        #expect(try DescriptorPassing.send([7, 8, 9], descriptor: memfd, over: pair[0]) == 3)
        let received = try DescriptorPassing.receive(over: pair[1], capacity: 16)
        #expect(received.bytes == [7, 8, 9])
        let passed = try #require(received.descriptor)
        defer { Descriptors.close(passed) }
        #expect(passed != memfd)
        var text = [UInt8](repeating: 0, count: 16)
        #expect(pread(passed, &text, 16, 0) == 6)
        #expect(Array(text[..<6]) == Array("passed".utf8))
        #expect(fcntl(passed, F_GETFD) & FD_CLOEXEC != 0)
        // Plain bytes arrive without a descriptor; a closed socket is refused with its errno.
        #expect(write(pair[0], [1], 1) == 1)
        #expect(try DescriptorPassing.receive(over: pair[1], capacity: 16).descriptor == nil)
        #expect(throws: SystemError("sendmsg", code: EBADF)) {
            try DescriptorPassing.send([1], descriptor: memfd, over: -1)
        }
    }

    @Test func aPseudoTerminalCarriesRawBytesBothWays() throws {
        let pty = try PseudoTerminalPair.open()
        defer {
            Descriptors.close(pty.master)
            Descriptors.close(pty.slave)
        }
        #expect(pty.slavePath.hasPrefix("/dev/pts/"))
        // Raw mode: a CR stays a CR (no ICRNL), and nothing is echoed back to the master.
        #expect(try Descriptors.write(pty.master, Array("AT\r".utf8)) == 3)
        #expect(try readExactly(pty.slave, 3) == Array("AT\r".utf8))
        #expect(try Descriptors.write(pty.slave, Array("OK\n".utf8)) == 3)
        #expect(try readExactly(pty.master, 3) == Array("OK\n".utf8))
        var pending: Int32 = 0
        #expect(ioctl(pty.master, UInt(FIONREAD), &pending) == 0 && pending == 0)
    }

    @Test func aTapIsCreatedInAPrivateNetworkNamespaceWithPreciseRefusals() throws {
        try onOwnThread {
            do throws(SystemError) {
                try Namespaces.enterNewNetworkNamespace()
            } catch {
                // Without CAP_SYS_ADMIN there is no private namespace to try a tap in.
                #expect(error.code == EPERM)
                return
            }
            let fd: Int32
            do throws(SystemError) {
                fd = try TunTap.open(name: "hstest0", persistent: false)
            } catch {
                // No tun module or no CAP_NET_ADMIN: the refusal says which step failed.
                #expect(error.operation == "open /dev/net/tun" || error.operation == "TUNSETIFF")
                return
            }
            defer { Descriptors.close(fd) }
            try TunTap.setHardwareAddress(name: "hstest0", [0x02, 0, 0, 0, 0, 0x01])
            try TunTap.bringUp(name: "hstest0")
            var buffer = [UInt8](repeating: 0, count: 2048)
            // Non-blocking: no frame yet is EAGAIN, not a hang.
            #expect(throws: SystemError("read", code: EAGAIN)) { try Descriptors.read(fd, into: &buffer) }
            #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
            // The name is held by the open tap: a second open fails at TUNSETIFF with EBUSY.
            #expect(throws: SystemError("TUNSETIFF", code: EBUSY)) {
                try TunTap.open(name: "hstest0", persistent: false)
            }
            #expect(throws: SystemError("TUNSETIFF", code: EINVAL)) {
                try TunTap.open(name: "a-name-too-long-1", persistent: false)
            }
            #expect(throws: SystemError("SIOCSIFHWADDR", code: EINVAL)) {
                try TunTap.setHardwareAddress(name: "hstest0", [1, 2, 3])
            }
        }
    }

    @Test func realTimeSchedulingIsAppliedOrRefusedWithItsErrno() throws {
        try onOwnThread {
            do throws(SystemError) {
                try Scheduling.setRealTime(priority: 1, resetOnFork: true)
                #expect(try Scheduling.isRealTime())
            } catch {
                #expect(error == SystemError("sched_setscheduler", code: EPERM))
                #expect((try? Scheduling.isRealTime()) == false)
            }
        }
        #expect(throws: SystemError("sched_setscheduler", code: EINVAL)) {
            try Scheduling.setRealTime(priority: 100)
        }
        #expect(throws: SystemError("setpriority", code: ESRCH)) { try Scheduling.setNice(pid: Int32.max, 0) }
    }

    @Test func aThreadGoesBackToNormalSchedulingAndItsDemandCountsTimeRunAndTimeWaited() throws {
        try onOwnThread {
            if (try? Scheduling.setRealTime(priority: 1, resetOnFork: true)) != nil {
                #expect(try Scheduling.isRealTime())
                try Scheduling.setNormal(resetOnFork: true)
                #expect(try Scheduling.isRealTime() == false)
                // Reset-on-fork kept: raising again needs no privilege beyond the first time's.
                try Scheduling.setRealTime(priority: 1, resetOnFork: true)
                try Scheduling.setNormal(resetOnFork: true)
            }
            // Spinning 30 ms of wall time: the thread ran or waited runnable all along, so its demand grows by
            // about that much (a thread clock alone would miss the time another process held its CPU).
            let before = try #require(Scheduling.threadCPUDemandNanoseconds())
            var start = timespec()
            clock_gettime(CLOCK_MONOTONIC, &start)
            var now = start
            while (now.tv_sec - start.tv_sec) * 1_000_000_000 + (now.tv_nsec - start.tv_nsec) < 30_000_000 {
                clock_gettime(CLOCK_MONOTONIC, &now)
            }
            let after = try #require(Scheduling.threadCPUDemandNanoseconds())
            #expect(after >= before + 25_000_000 && after <= before + 1_000_000_000)
            // Sleeping is not wanting a CPU.
            usleep(30_000)
            let slept = try #require(Scheduling.threadCPUDemandNanoseconds())
            #expect(slept - after < 20_000_000)
        }
    }

    @Test func theHeapTuningCallsAreAccepted() {
        #expect(Memory.setTrimThreshold(4 << 20))
        #expect(Memory.setMmapThreshold(2 << 20))
        _ = Memory.returnFreeMemory()
    }

    /// Reads exactly `count` bytes from a blocking descriptor.
    private func readExactly(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        while result.count < count {
            var buffer = [UInt8](repeating: 0, count: count - result.count)
            let got = try Descriptors.read(fd, into: &buffer)
            if got == 0 { break }
            result += buffer[..<got]
        }
        return result
    }
}

/// Runs `body` on a new thread and waits for it: per-thread changes (a network namespace, a scheduling
/// policy) end with that thread instead of leaking into the test runner's.
private func onOwnThread(_ body: @escaping @Sendable () throws -> Void) throws {
    final class Box: @unchecked Sendable {
        var body: @Sendable () throws -> Void
        var error: (any Error)?
        init(_ body: @escaping @Sendable () throws -> Void) { self.body = body }
    }
    let box = Box(body)
    var thread = pthread_t()
    // SAFETY: the box is retained until the thread, joined below, has released it.
    let context = Unmanaged.passRetained(box).toOpaque()
    let created = pthread_create(
        &thread, nil,
        { raw in
            // SAFETY: raw is the retained box passed to pthread_create; taken back exactly once.
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            do { try box.body() } catch { box.error = error }
            return nil
        }, context)
    guard created == 0 else {
        // SAFETY: the thread was not created, so the retain above is still ours to release.
        Unmanaged<Box>.fromOpaque(context).release()
        throw SystemError("pthread_create", code: created)
    }
    pthread_join(thread, nil)
    if let error = box.error { throw error }
}
