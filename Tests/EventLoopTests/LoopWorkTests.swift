import EventLoop
import Glibc
import Testing

/// `LoopWork`: blocking work on libuv's thread pool whose completion runs on the loop's thread.
@Suite struct LoopWorkTests {
    /// The calling thread, comparable across threads.
    static func thread() -> UInt { UInt(pthread_self()) }

    @Test func workRunsOffTheLoopAndCompletesOnIt() throws {
        let loopThread = Self.thread()
        var workThread: UInt?
        var completionThread: UInt?
        try withLoop { loop, finish in
            try LoopWork.run(on: loop, { LoopWorkTests.thread() }) { ranOn in
                workThread = ranOn
                completionThread = LoopWorkTests.thread()
                finish()
            }
        }
        #expect(workThread != nil && workThread != loopThread)
        #expect(completionThread == loopThread)
    }

    /// The loop keeps serving while a job blocks: a timer fires many times during a 300 ms job.
    @Test func theLoopRunsWhileWorkBlocks() throws {
        var ticks = 0
        var done = false
        try withLoop { loop, finish in
            let timer = try Timer(loop: loop)
            timer.start(afterMilliseconds: 10, repeatMilliseconds: 10) { ticks += 1 }
            try LoopWork.run(on: loop, { usleep(300_000) }) {
                done = true
                timer.close()
                finish()
            }
        }
        #expect(done)
        #expect(ticks >= 10)
    }

    @Test func manyJobsEachCompleteOnceWithTheirOwnResult() throws {
        let loopThread = Self.thread()
        var results: [Int] = []
        var offLoop = true
        try withLoop { loop, finish in
            for index in 0..<200 {
                try LoopWork.run(on: loop, { index * index }) { square in
                    offLoop = offLoop && LoopWorkTests.thread() == loopThread
                    results.append(square)
                    if results.count == 200 { finish() }
                }
            }
        }
        #expect(offLoop)
        #expect(results.sorted() == (0..<200).map { $0 * $0 })
    }

    /// A loop shut down while a job runs waits for it, runs its completion, then closes with nothing leaked.
    @Test func shutdownWaitsForRunningWorkAndRunsItsCompletion() throws {
        let loop = try Loop()
        var completed = false
        try LoopWork.run(on: loop, { usleep(200_000) }) { completed = true }
        let started = MonotonicClock.nanoseconds()
        #expect(loop.shutdown() == 0)
        #expect(completed)
        #expect(MonotonicClock.nanoseconds() - started >= 150_000_000)
    }

    @Test func aClosedLoopQueuesNothing() throws {
        let loop = try Loop()
        #expect(loop.shutdown() == 0)
        #expect(throws: LoopError.self) { try LoopWork.run(on: loop, { 1 }) { _ in Issue.record("ran") } }
    }
}
