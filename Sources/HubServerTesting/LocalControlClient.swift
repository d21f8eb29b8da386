import EventLoop
import HubServer
import HubSystem

/// A control client inside the hub's own process and thread, over a socketpair: the bytes it sends go
/// through the same session, framer, router and method handlers as a network client's. For fuzzing the
/// control router in process (`Tools/fuzz/run-control-router-fuzz.sh`) and for tests; `hubd` never uses it.
///
/// It drives the hub's loop itself (`exchange`), so it is only for a hub that is not running `run()`.
package final class LocalControlClient {
    private let hub: Hub
    /// The client's end of the socketpair (non-blocking).
    private var fd: Int32

    package init(hub: Hub, requiresToken: Bool) throws(LoopError) {
        self.hub = hub
        let fds: (Int32, Int32)
        do {
            fds = try Sockets.streamPair()
        } catch {
            throw LoopError(code: -error.code, operation: "socketpair")
        }
        fd = fds.0
        try? Descriptors.setNonBlocking(fd)
        let connection: Connection
        do {
            connection = try Connection.adopting(fileDescriptor: fds.1, loop: hub.loop)
        } catch {
            Descriptors.close(fds.0)
            Descriptors.close(fds.1)
            throw error
        }
        hub.acceptControl(connection, requiresToken: requiresToken, limits: hub.configuration.hub.limits)
    }

    deinit { close() }

    /// Hangs up the client's end (the hub sees end of stream at its next loop pass).
    package func close() {
        Descriptors.close(fd)
        fd = -1
    }

    /// Sends `bytes`, runs the hub's loop until it has nothing more to say for a few quiet passes (or hung
    /// up), and returns what the hub wrote meanwhile; `closed` is true once the hub closed the connection.
    package func exchange(_ bytes: [UInt8], maxPasses: Int = 10_000) -> (output: [UInt8], closed: Bool) {
        var output: [UInt8] = []
        var offset = 0
        var quiet = 0
        var closed = fd < 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        for _ in 0..<maxPasses where !closed {
            var progressed = false
            if offset < bytes.count {
                if let written = try? Sockets.send(fd, bytes[offset...]), written > 0 {
                    offset += written
                    progressed = true
                }
            }
            _ = hub.loop.runOnce(wait: false)
            while true {
                do {
                    let count = try Sockets.receiveNow(fd, into: &buffer)
                    guard count > 0 else {
                        closed = true
                        break
                    }
                    output += buffer[..<count]
                    progressed = true
                } catch {
                    if !error.wouldBlock { closed = true }
                    break
                }
            }
            quiet = progressed ? 0 : quiet + 1
            if quiet >= 8 && offset >= bytes.count { break }
        }
        return (output, closed)
    }
}

extension Hub {
    /// A control client over a socketpair, served by this hub like a network one (see `LocalControlClient`).
    package func localControlClient(requiresToken: Bool = false) throws(LoopError) -> LocalControlClient {
        try LocalControlClient(hub: self, requiresToken: requiresToken)
    }
}
