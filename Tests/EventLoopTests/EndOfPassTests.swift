import EventLoop
import Glibc
import Testing

@Suite struct EndOfPassTests {
    /// Armed from a read callback, the pass runs in the same loop iteration, after the read.
    @Test func runsAfterThePassInputWithoutWaiting() throws {
        var order: [String] = []
        try withLoop { loop, finish in
            let pass = try EndOfPass(loop: loop)
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            let poll = try FileDescriptorPoll(loop: loop, fileDescriptor: fds[0])
            try poll.start(.readable) { _, _ in
                var byte: UInt8 = 0
                _ = read(fds[0], &byte, 1)
                order.append("read")
                pass.arm {
                    order.append("pass")
                    poll.close()
                    pass.close()
                    close(fds[0])
                    close(fds[1])
                    finish()
                }
                order.append("armed")
            }
            var byte: UInt8 = 1
            _ = write(fds[1], &byte, 1)
        }
        #expect(order == ["read", "armed", "pass"])
    }

    /// A pass armed from its own callback waits for the next iteration, so the loop polls in between: a pass
    /// that re-arms itself forever does not starve input (a zero-delay timer restarted from its own callback
    /// would, since libuv 1.44 runs it again within the same timer phase).
    @Test func reArmingFromTheCallbackLetsInputThroughBetweenPasses() throws {
        var passesBeforeRead = -1
        var passes = 0
        try withLoop { loop, finish in
            let pass = try EndOfPass(loop: loop)
            var fds: [Int32] = [0, 0]
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            func step() {
                passes += 1
                pass.arm(step)
            }
            pass.arm(step)
            var byte: UInt8 = 1
            _ = write(fds[1], &byte, 1)
            let poll = try FileDescriptorPoll(loop: loop, fileDescriptor: fds[0])
            try poll.start(.readable) { _, _ in
                passesBeforeRead = passes
                poll.close()
                pass.close()
                close(fds[0])
                close(fds[1])
                finish()
            }
        }
        #expect(passesBeforeRead >= 0 && passesBeforeRead <= 2, "input waited behind \(passesBeforeRead) passes")
    }

    /// `arm()` runs the standing body given at `init`, once per arming and only when armed; a body given to
    /// `arm(_:)` runs instead for that pass, and the standing one again after it.
    @Test func theStandingBodyRunsOncePerArmingAndAGivenBodyReplacesItForOnePass() throws {
        var runs: [String] = []
        try withLoop { loop, finish in
            var pass: EndOfPass!
            pass = try EndOfPass(loop: loop) {
                runs.append("standing")
                switch runs.count {
                case 1:
                    pass.arm()
                    pass.arm()  // armed twice in one pass: runs once
                case 2: pass.arm { runs.append("given") }
                default:
                    pass.close()
                    finish()
                }
            }
            pass.arm()
            // Passes that nobody armed run nothing: a timer ends the test if the chain above stalls.
            try Timer.once(loop: loop, afterMilliseconds: 200) {
                pass.arm()
            }
        }
        #expect(runs == ["standing", "standing", "given", "standing"])
    }

    @Test func aClosedPassIgnoresArm() throws {
        var ran = false
        try withLoop { loop, finish in
            let pass = try EndOfPass(loop: loop) { ran = true }
            pass.close {
                pass.arm()
                #expect(!pass.isArmed)
                // Give the loop a few passes in which the body could (wrongly) run.
                _ = try? Timer.once(loop: loop, afterMilliseconds: 20) { finish() }
            }
        }
        #expect(!ran)
    }

    @Test func closingAnArmedPassDropsItsCallback() throws {
        var ran = false
        try withLoop { loop, finish in
            let pass = try EndOfPass(loop: loop)
            pass.arm { ran = true }
            pass.close { finish() }
        }
        #expect(!ran)
    }
}
