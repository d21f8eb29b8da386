import CUV
import Glibc

/// A child process started on the loop, with its stdout and stderr piped back as streams.
///
/// The exit callback reports the exit status and the terminating signal (0 if none). The process
/// handle closes itself after exit; output pipes close when the child's side reaches end of file.
package final class ChildProcess: LoopHandle {
    package struct Options {
        package var executable: String
        package var arguments: [String]
        /// The complete environment of the child (not merged with the hub's).
        package var environment: [String: String]
        package var workingDirectory: String?
        package var pipeStdin: Bool
        /// Start the child in its own process group, so a signal to the hub's group does not reach it.
        package var detachedGroup: Bool

        package init(
            executable: String, arguments: [String] = [], environment: [String: String] = [:],
            workingDirectory: String? = nil, pipeStdin: Bool = false, detachedGroup: Bool = false
        ) {
            self.executable = executable
            self.arguments = arguments
            self.environment = environment
            self.workingDirectory = workingDirectory
            self.pipeStdin = pipeStdin
            self.detachedGroup = detachedGroup
        }
    }

    package let stdout: Connection
    package let stderr: Connection
    package let stdin: Connection?
    package private(set) var processID: Int32 = 0
    package private(set) var exitStatus: Int64?
    package private(set) var terminatingSignal: Int32?
    private var onExit: ((Int64, Int32) -> Void)?

    /// Spawns the child. Output chunks go to `onStdout`/`onStderr`; `onExit` gets (status, signal).
    package init(
        loop: Loop, options: Options,
        onStdout: @escaping (ArraySlice<UInt8>) -> Void = { _ in },
        onStderr: @escaping (ArraySlice<UInt8>) -> Void = { _ in },
        onExit: @escaping (Int64, Int32) -> Void
    ) throws(LoopError) {
        stdout = try Connection(loop: loop, kind: .unix)
        stderr = try Connection(loop: loop, kind: .unix)
        stdin = options.pipeStdin ? try Connection(loop: loop, kind: .unix) : nil
        super.init(loop: loop, type: UV_PROCESS)
        self.onExit = onExit

        // The C strings live until uv_spawn returns; libuv has forked and exec'd (or failed) by then.
        let argv = CStringArray([options.executable] + options.arguments)
        let envp = CStringArray(options.environment.map { "\($0.key)=\($0.value)" }.sorted())
        defer {
            argv.free()
            envp.free()
        }
        var stdio = [uv_stdio_container_t](repeating: uv_stdio_container_t(), count: 3)
        if let stdin {
            stdio[0].flags = uv_stdio_flags(UV_CREATE_PIPE.rawValue | UV_READABLE_PIPE.rawValue)
            stdio[0].data.stream = stdin.stream
        } else {
            stdio[0].flags = UV_IGNORE
        }
        stdio[1].flags = uv_stdio_flags(UV_CREATE_PIPE.rawValue | UV_WRITABLE_PIPE.rawValue)
        stdio[1].data.stream = stdout.stream
        stdio[2].flags = uv_stdio_flags(UV_CREATE_PIPE.rawValue | UV_WRITABLE_PIPE.rawValue)
        stdio[2].data.stream = stderr.stream

        let result: Int32 = options.executable.withCString { file in
            (options.workingDirectory ?? "").withCString { cwd in
                stdio.withUnsafeMutableBufferPointer { containers in
                    var spawn = uv_process_options_t()
                    spawn.file = file
                    spawn.args = argv.pointer
                    spawn.env = envp.pointer
                    spawn.cwd = options.workingDirectory == nil ? nil : cwd
                    spawn.stdio_count = 3
                    spawn.stdio = containers.baseAddress
                    spawn.flags = options.detachedGroup ? UInt32(UV_PROCESS_DETACHED.rawValue) : 0
                    spawn.exit_cb = { process, status, signal in
                        // SAFETY: uv_process_t begins with the uv_handle_t fields; the owner lives until its close callback.
                        let handle = UnsafeMutableRawPointer(process!).assumingMemoryBound(to: uv_handle_t.self)
                        LoopHandle.owner(of: handle, as: ChildProcess.self).didExit(status: status, signal: signal)
                    }
                    // SAFETY: every pointer in `spawn` is valid for the duration of this call.
                    return uv_spawn(loop.raw, self.pointer(as: uv_process_t.self), &spawn)
                }
            }
        }
        if result < 0 {
            // libuv requires closing the process handle even when spawning failed.
            didOpen()
            close()
            stdout.close()
            stderr.close()
            stdin?.close()
            throw LoopError(code: result, operation: "spawn \(options.executable)")
        }
        didOpen()
        processID = pointer(as: uv_process_t.self).pointee.pid
        stdout.onData = onStdout
        stderr.onData = onStderr
        for pipe in [stdout, stderr] {
            pipe.onEnd = { [unowned pipe] _ in pipe.close() }
            try? pipe.startReading()
        }
    }

    /// Sends a signal to the child. Fails with ESRCH once it has exited.
    package func kill(signal: Int32 = SIGTERM) throws(LoopError) {
        guard isOpen, exitStatus == nil else { throw LoopError(code: Int32(UV_ESRCH.rawValue), operation: "kill") }
        try LoopError.check(uv_process_kill(pointer(as: uv_process_t.self), signal), "kill \(processID)")
    }

    package var hasExited: Bool { exitStatus != nil }

    private func didExit(status: Int64, signal: Int32) {
        exitStatus = status
        terminatingSignal = signal
        let callback = onExit
        onExit = nil
        close()
        callback?(status, signal)
    }

    override func didClose() { onExit = nil }
}

/// A NULL-terminated `char *[]` built from Swift strings, freed explicitly.
struct CStringArray {
    let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let count: Int

    init(_ strings: [String]) {
        count = strings.count
        pointer = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { pointer[index] = strdup(string) }
        pointer[strings.count] = nil
    }

    func free() {
        for index in 0..<count { Glibc.free(pointer[index]) }
        pointer.deallocate()
    }
}
