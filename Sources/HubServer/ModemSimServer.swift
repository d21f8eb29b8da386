import EventLoop
import Glibc
import Logging
import Modem
import PlatformConfig

/// `hubd modem-sim`: only the built-in network simulator, served as raw AT over a listener so a hub
/// elsewhere can use it as its modem's remote backend. Each connection gets its own simulated modem.
public final class ModemSimServer {
    private let loop: Loop
    private var listener: Listener?
    private var sessions: [ObjectIdentifier: (Connection, ModemSimulator, Timer?)] = [:]
    private var signals: [SignalWatcher] = []
    private let logger: Logger
    public private(set) var boundEndpoint: Endpoint?

    public init(listen endpoint: Endpoint, logger: Logger) throws(HubStartError) {
        self.logger = logger
        do {
            loop = try Loop()
        } catch {
            throw HubStartError.loop(error)
        }
        do {
            let listener = try Listener(loop: loop, address: endpoint.socketAddress) { [unowned self] connection in
                self.accept(connection)
            }
            self.listener = listener
            boundEndpoint = listener.boundAddress.endpoint
        } catch {
            throw HubStartError.listen(entry: "--listen", endpoint: endpoint, error)
        }
        for number in [SIGINT, SIGTERM] {
            if let watcher = try? SignalWatcher(loop: loop, signal: number, { [unowned self] _ in self.stop() }) {
                signals.append(watcher)
            }
        }
    }

    /// Runs until SIGINT/SIGTERM; returns the loop's status.
    public func run() -> Int32 {
        logger.info("modem simulator listening on \(boundEndpoint?.description ?? "?")")
        loop.run()
        return loop.shutdown()
    }

    private func stop() {
        listener?.close()
        listener = nil
        for (connection, _, timer) in sessions.values {
            timer?.close()
            connection.close()
        }
        sessions.removeAll()
        for watcher in signals { watcher.close() }
        signals.removeAll()
    }

    private func accept(_ connection: Connection) {
        let key = ObjectIdentifier(connection)
        let simulator = ModemSimulator(now: ModemSimServer.nowMs())
        sessions[key] = (connection, simulator, try? Timer(loop: loop))
        connection.onData = { [unowned self] data in
            simulator.receive(data, now: ModemSimServer.nowMs())
            self.flush(key)
        }
        connection.onEnd = { [unowned self, unowned connection] _ in
            self.sessions[key]?.2?.close()
            self.sessions[key] = nil
            connection.close()
        }
        do {
            try connection.startReading()
        } catch {
            sessions[key] = nil
            connection.close()
        }
    }

    private func flush(_ key: ObjectIdentifier) {
        guard let (connection, simulator, timer) = sessions[key] else { return }
        let output = simulator.takeOutput()
        if !output.isEmpty { _ = connection.write(output) }
        _ = simulator.takeEvents()
        guard let deadline = simulator.nextDeadline else {
            timer?.stop()
            return
        }
        let now = ModemSimServer.nowMs()
        timer?.start(afterMilliseconds: deadline > now ? deadline - now : 0) { [unowned self] in
            simulator.advance(to: ModemSimServer.nowMs())
            self.flush(key)
        }
    }

    static func nowMs() -> UInt64 { MonotonicClock.nanoseconds() / 1_000_000 }
}
