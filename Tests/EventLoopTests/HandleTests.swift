import EventLoop
import Glibc
import Synchronization
import TestSupport
import Testing

@Suite struct HandleTests {
    @Test func oneShotAndRepeatingTimers() throws {
        var ticks = 0
        var fired = false
        try withLoop { loop, finish in
            let start = loop.nowMilliseconds
            let repeating = try Timer(loop: loop)
            try Timer.once(loop: loop, afterMilliseconds: 30) {
                fired = true
                #expect(loop.nowMilliseconds - start >= 30)
                if ticks == 5 { finish() }
            }
            repeating.start(afterMilliseconds: 5, repeatMilliseconds: 5) {
                ticks += 1
                if ticks == 5 {
                    repeating.close()
                    if fired { finish() }
                }
            }
        }
        #expect(ticks == 5)
        #expect(fired)
    }

    @Test func signalIsDeliveredOnTheLoop() throws {
        var received: Int32 = 0
        try withLoop { loop, finish in
            let watcher = try SignalWatcher(loop: loop, signal: SIGUSR1) { number in
                received = number
                finish()
            }
            try Timer.once(loop: loop, afterMilliseconds: 5) { kill(getpid(), SIGUSR1) }
            _ = watcher
        }
        #expect(received == SIGUSR1)
    }

    @Test func childExitStatusAndOutput() throws {
        var output: [UInt8] = []
        var errors: [UInt8] = []
        var status: (Int64, Int32)?
        try withLoop { loop, finish in
            let child = try ChildProcess(
                loop: loop,
                options: .init(
                    executable: "/bin/sh", arguments: ["-c", "echo out-$GREETING; echo err >&2; exit 3"],
                    environment: ["GREETING": "hello", "PATH": "/usr/bin:/bin"]),
                onStdout: { output += $0 }, onStderr: { errors += $0 },
                onExit: { code, signal in
                    status = (code, signal)
                    finish()
                })
            #expect(child.processID > 0)
        }
        #expect(String(decoding: output, as: UTF8.self) == "out-hello\n")
        #expect(String(decoding: errors, as: UTF8.self) == "err\n")
        #expect(status?.0 == 3)
        #expect(status?.1 == 0)
    }

    @Test func killedChildReportsItsSignal() throws {
        var signal: Int32 = 0
        try withLoop { loop, finish in
            let child = try ChildProcess(
                loop: loop, options: .init(executable: "/bin/sleep", arguments: ["30"]),
                onExit: { _, number in
                    signal = number
                    finish()
                })
            try child.kill(signal: SIGKILL)
        }
        #expect(signal == SIGKILL)
    }

    @Test func spawningAMissingProgramFails() throws {
        try withLoop { loop, finish in
            #expect(throws: LoopError.self) {
                _ = try ChildProcess(
                    loop: loop, options: .init(executable: "/nonexistent/program"), onExit: { _, _ in })
            }
            finish()
        }
    }

    @Test func doorRunsJobsFromOtherThreadsAndRefusesAfterClose() throws {
        let counter = Mutex(0)
        var seenOnLoop = 0
        let loop = try Loop()
        let door = try LoopDoor(loop: loop)
        let threads = 4
        let perThread = 250
        let done = Mutex(0)
        for _ in 0..<threads {
            spawnThread {
                for _ in 0..<perThread {
                    _ = door.post { counter.withLock { $0 += 1 } }
                }
                done.withLock { $0 += 1 }
            }
        }
        let deadline = MonotonicClock.nanoseconds() + 5_000_000_000
        while counter.withLock({ $0 }) < threads * perThread && MonotonicClock.nanoseconds() < deadline {
            let tick = try Timer(loop: loop)
            tick.start(afterMilliseconds: 10) {}
            loop.runOnce()
            tick.close()
        }
        seenOnLoop = counter.withLock { $0 }
        #expect(seenOnLoop == threads * perThread)
        door.close()
        #expect(door.isClosed)
        #expect(door.post {} == false, "a closed door refuses work")
        #expect(loop.shutdown() == 0)
    }

    @Test func closingTheLoopClosesTheDoor() throws {
        let loop = try Loop()
        let door = try LoopDoor(loop: loop)
        let ran = Mutex(false)
        #expect(door.post { ran.withLock { $0 = true } })
        #expect(loop.shutdown() == 0)
        #expect(ran.withLock { $0 }, "a job the door accepted runs even when the loop shuts down first")
        #expect(door.post {} == false)
    }

    @Test func pollReportsReadableDescriptor() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        var gotReadable = false
        try withLoop { loop, finish in
            let poll = try FileDescriptorPoll(loop: loop, fileDescriptor: fds[0])
            try poll.start(.readable) { events, error in
                #expect(error == nil)
                gotReadable = events.contains(.readable)
                poll.close()
                finish()
            }
            _ = write(fds[1], "x", 1)
        }
        #expect(gotReadable)
    }

    @Test func udpDatagramsRoundTrip() throws {
        var got: [[UInt8]] = []
        try withLoop { loop, finish in
            let receiver = try UDPSocket(loop: loop, host: "127.0.0.1", port: 0)
            let sender = try UDPSocket(loop: loop, host: "127.0.0.1", port: 0)
            receiver.onDatagram = { bytes, from in
                got.append(Array(bytes))
                #expect(from.port == sender.boundAddress.port)
                if got.count == 3 {
                    receiver.close()
                    sender.close()
                    finish()
                }
            }
            try receiver.startReceiving()
            for size in [1, 1500, 9000] {
                sender.send([UInt8](repeating: UInt8(size % 251), count: size), to: receiver.boundAddress)
            }
        }
        #expect(got.map(\.count) == [1, 1500, 9000])
    }
}
