import Glibc
import GuestWire
import HubGuest

// hubbench: load generator and baseline for Tools/benchmarks/bench.py. Each mode prints one JSON line.
//
//   pingpong-responder|pingpong-initiator --direct E --hub E --partition P --peer Q --line L --count N [--warmup W]
//       [--eoi separate]
//       A direct socket ping-pong between the two processes, then the same two processes attached to the
//       hub: the initiator raises L on the responder, whose handler raises L back (cross-interrupt round trip).
//       Each handler answers with its EOI and its raise in one write; `--eoi separate`: two writes.
//   flood --hub E --partition P --link NAME --seconds S [--size 64]     send and receive as fast as credit allows
//   msg-send|msg-recv --hub E --partition P --link NAME --count N [--size 64]   one-link throughput
//       (msg-send and flood with `--sequenced 1`: idempotent sends, MSG_SEND_SEQ, Protocols/guest.md §7.10)
//   redis-pub|redis-sub --socket PATH --count N [--size 64]               Redis pub/sub baseline
//   attach-many --hub E --prefix P --count N                               attach N guests, hold until stdin closes
//   switch-macflood [--frames N] [--rounds R]    the switch alone, in process: fixed source against a full table's
//       eviction per frame (SwitchFlood.swift)

/// The command line: a mode, then `--name value` pairs.
enum Command {
    static let arguments = Array(CommandLine.arguments.dropFirst())
    static let options: [String: String] = {
        var options: [String: String] = [:]
        var index = 1
        while index + 1 < arguments.count {
            options[String(arguments[index].drop { $0 == "-" })] = arguments[index + 1]
            index += 2
        }
        return options
    }()
}

guard let mode = Command.arguments.first else { fail("usage: hubbench MODE --option value ...") }
let options = Command.options

func fail(_ message: String) -> Never {
    let bytes = Array("hubbench: \(message)\n".utf8)
    _ = write(2, bytes, bytes.count)
    exit(1)
}

/// One JSON line on standard output, unbuffered (bench.py reads these while the process runs).
func emit(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = write(1, bytes, bytes.count)
}

func option(_ name: String) -> String {
    guard let value = Command.options[name] else { fail("missing --\(name)") }
    return value
}

func number(_ name: String, _ fallback: Int? = nil) -> Int {
    if let value = Command.options[name] {
        guard let parsed = Int(value) else { fail("--\(name) \(value) is not a number") }
        return parsed
    }
    guard let fallback else { fail("missing --\(name)") }
    return fallback
}

func nowNanos() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

func percentiles(_ samples: [UInt64]) -> String {
    let sorted = samples.sorted()
    func at(_ fraction: Double) -> Double {
        Double(sorted[min(sorted.count - 1, Int(fraction * Double(sorted.count)))]) / 1000
    }
    return "[\(at(0.5)), \(at(0.99)), \(at(0.999))]"
}

func attach(_ partition: String, secret: String? = nil) -> GuestClient {
    do {
        return try GuestClient.connect(
            endpoint: option("hub"), partition: partition, secret: secret ?? "\(partition)-dev-secret",
            features: Command.options["sequenced"] == "1" ? [GuestProtocol.sendSequenceFeature] : [])
    } catch {
        fail("attach \(partition): \(error)")
    }
}

// MARK: Direct socket baseline

func directSocket(_ endpoint: String, listen: Bool) -> Int32 {
    var fd: Int32
    if endpoint.hasPrefix("unix:") {
        let path = String(endpoint.dropFirst(5))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (offset, byte) in path.utf8.enumerated() { raw[offset] = byte }
        }
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        // SAFETY: a fully initialised sockaddr_un for the duration of each call.
        if listen {
            unlink(path)
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, length) }
            }
        } else {
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
            }
            if result != 0 { fail("connect \(endpoint): errno \(errno)") }
            return fd
        }
    } else {
        guard let port = UInt16(endpoint.split(separator: ":").last ?? "") else { fail("bad endpoint \(endpoint)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        // SAFETY: as above.
        if listen {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, length) }
            }
        } else {
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
            }
            if result != 0 { fail("connect \(endpoint): errno \(errno)") }
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return fd
        }
    }
    guard Glibc.listen(fd, 1) == 0 else { fail("listen \(endpoint): errno \(errno)") }
    emit("{\"listening\": true}")
    let connection = accept(fd, nil, nil)
    close(fd)
    var one: Int32 = 1
    setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    return connection
}

func exchange(_ fd: Int32, send byte: UInt8) {
    var out = [UInt8](repeating: byte, count: 8)
    guard Glibc.send(fd, &out, 8, Int32(MSG_NOSIGNAL)) == 8 else { fail("direct send: errno \(errno)") }
}

func await8(_ fd: Int32) {
    var buffer = [UInt8](repeating: 0, count: 8)
    var have = 0
    while have < 8 {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + have, 8 - have, 0) }
        guard count > 0 else { fail("direct recv: \(count) errno \(errno)") }
        have += count
    }
}

func waitIRQ(_ client: GuestClient, line: UInt16) {
    do {
        while let event = try client.nextEvent(timeout: 10) {
            if case .irq(let got, _, _) = event, got == line { return }
        }
    } catch {
        fail("waiting for IRQ: \(error)")
    }
    fail("no IRQ \(line) within 10 s")
}

/// A handler's answer to the interrupt it is serving: its `EOI` and the raise on the peer, in one write as a
/// direct ping-pong sends its one message (`--eoi separate`: two writes, the `EOI` first).
func answer(_ client: GuestClient, line: UInt16, peer: String) throws(GuestClientError) {
    if Command.options["eoi"] == "separate" {
        try client.eoi(line: line)
        try client.raiseNoWait(partition: peer, line: line)
    } else {
        try client.eoiAndRaise(line: line, partition: peer, raising: line)
    }
}

func pingPong(initiator: Bool) {
    let total = number("count") + number("warmup", 1000)
    let warmup = number("warmup", 1000)
    let line = UInt16(number("line"))
    let peer = option("peer")
    let direct = directSocket(option("direct"), listen: !initiator)
    var directSamples: [UInt64] = []
    directSamples.reserveCapacity(total)
    for _ in 0..<total {
        if initiator {
            let started = nowNanos()
            exchange(direct, send: 1)
            await8(direct)
            directSamples.append(nowNanos() - started)
        } else {
            await8(direct)
            exchange(direct, send: 2)
        }
    }
    // Attach; the responder says "ready" over the direct socket so no raise is ever latched.
    let client = attach(option("partition"))
    if initiator { await8(direct) } else { exchange(direct, send: 3) }
    var hubSamples: [UInt64] = []
    hubSamples.reserveCapacity(total)
    do {
        for round in 0..<total {
            if initiator {
                let started = nowNanos()
                if round == 0 {
                    try client.raiseNoWait(partition: peer, line: line)
                } else {
                    try answer(client, line: line, peer: peer)
                }
                waitIRQ(client, line: line)
                hubSamples.append(nowNanos() - started)
            } else {
                waitIRQ(client, line: line)
                try answer(client, line: line, peer: peer)
            }
        }
        if initiator { try client.eoi(line: line) }
        if initiator { exchange(direct, send: 4) } else { await8(direct) }
        try client.detach(reason: "benchmark done")
    } catch {
        fail("ping-pong: \(error)")
    }
    if initiator {
        emit(
            "{\"direct_us\": \(percentiles(Array(directSamples.dropFirst(warmup)))), \"hub_us\": \(percentiles(Array(hubSamples.dropFirst(warmup))))}"
        )
    }
}

// MARK: Messaging

func linkInfo(_ client: GuestClient) -> GuestLinkInfo {
    let name = option("link")
    guard let link = client.welcome.links.first(where: { $0.name == name }) else { fail("no link \(name)") }
    return link
}

/// Sends while credit lasts and acknowledges everything received, until `until` says stop.
func pump(
    _ client: GuestClient, link: GuestLinkInfo, sendLimit: Int, receiveLimit: Int, deadline: UInt64?,
    fullBatches: Bool = false
) -> (sent: Int, received: Int, firstReceive: UInt64, lastReceive: UInt64) {
    let payload = [UInt8](repeating: 0x5a, count: number("size", 64))
    // The payload list of a full batch, built once (as the Redis publisher builds its block of commands once).
    let fullBatch = Array(repeating: payload[...], count: 256)
    var credit = Int(link.initialCredit)
    var sent = 0
    var received = 0
    var firstReceive: UInt64 = 0
    var lastReceive: UInt64 = 0
    var lastId: UInt64 = 0
    var acked: UInt64 = 0
    let sequenced = Command.options["sequenced"] == "1"
    var nextSequence = (client.sendSequences[link.id] ?? 0) + 1
    do {
        while sent < sendLimit || received < receiveLimit {
            if let deadline, nowNanos() > deadline { break }
            // Writes of at most 256 messages. With `fullBatches` (the throughput run) always 256, like the Redis
            // publisher's pipelined batches: with less credit, wait for more rather than spend a write on a few
            // messages. Otherwise (the flood) whatever credit allows.
            let batch = min(256, sendLimit - sent, fullBatches ? Int.max : credit)
            let canSend = batch > 0 && credit >= batch
            if canSend {
                if sequenced {
                    try client.sendSequencedMessages(
                        link: link.id, firstSequence: nextSequence,
                        payloads: Array(repeating: payload[...], count: batch))
                    nextSequence += UInt64(batch)
                } else {
                    try client.sendMessages(
                        link: link.id,
                        payloads: batch == fullBatch.count ? fullBatch : Array(repeating: payload[...], count: batch))
                }
                credit -= batch
                sent += batch
            }
            let idle = !canSend
            // Deliveries are read in place (receiveMessages also takes any already queued); everything else
            // waits in the client's queue for nextEvent.
            let got = try client.receiveMessages(timeout: idle ? 0.05 : 0) { delivery in
                guard delivery.link == link.id else { return }
                if received == 0 { firstReceive = nowNanos() }
                received += 1
                lastId = delivery.messageId
            }
            if got > 0 { lastReceive = nowNanos() }
            while client.hasQueuedFrames, let event = try client.nextEvent(timeout: 0) {
                switch event {
                case .credit(let id, let more) where id == link.id: credit += Int(more)
                case .other(let frame):
                    if case .msgSent(_, _, let status) = frame.message, status != .queued {
                        fail("send refused: \(status)")
                    }
                case .error(let code, let reason, _): fail("hub error \(code): \(reason)")
                default: break
                }
            }
            if lastId > acked {
                try client.ack(link: link.id, upTo: lastId)
                acked = lastId
            }
        }
    } catch {
        fail("pump: \(error)")
    }
    return (sent, received, firstReceive, lastReceive)
}

// MARK: Redis baseline (RESP over a Unix socket)

func redisConnect() -> Int32 { directSocket("unix:" + option("socket"), listen: false) }

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, 0) }
        guard written > 0 else { fail("redis send: errno \(errno)") }
        offset += written
    }
}

/// Reads until `total` bytes arrived; returns the time the first byte came.
func readBytes(_ fd: Int32, total: Int, onFirst: (() -> Void)? = nil) -> Int {
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    var have = 0
    while have < total {
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { fail("redis recv: errno \(errno)") }
        if have == 0 { onFirst?() }
        have += count
    }
    return have
}

// MARK: Modes

switch mode {
case "switch-macflood": switchMACFlood(frames: number("frames", 300_000), rounds: number("rounds", 5))
case "pingpong-initiator": pingPong(initiator: true)
case "pingpong-responder": pingPong(initiator: false)
case "flood":
    let client = attach(option("partition"))
    let deadline = nowNanos() + UInt64(number("seconds")) * 1_000_000_000
    let result = pump(client, link: linkInfo(client), sendLimit: Int.max, receiveLimit: Int.max, deadline: deadline)
    emit("{\"sent\": \(result.sent), \"received\": \(result.received)}")
    try? client.detach(reason: "flood done")
case "msg-send":
    let client = attach(option("partition"))
    let result = pump(
        client, link: linkInfo(client), sendLimit: number("count"), receiveLimit: 0, deadline: nil, fullBatches: true)
    // Stay until the receiver has everything (its acks come back as credit): detaching is fine too,
    // queued messages stay queued, but waiting keeps the run honest.
    emit("{\"sent\": \(result.sent)}")
    _ = try? client.nextEvent(timeout: 1)
    try? client.detach(reason: "sent")
case "msg-recv":
    let client = attach(option("partition"))
    emit("{\"ready\": true}")
    let count = number("count")
    let result = pump(client, link: linkInfo(client), sendLimit: 0, receiveLimit: count, deadline: nil)
    let seconds = Double(result.lastReceive - result.firstReceive) / 1e9
    emit("{\"received\": \(result.received), \"rate\": \(Double(result.received - 1) / seconds)}")
    try? client.detach(reason: "received")
case "redis-sub":
    let fd = redisConnect()
    writeAll(fd, Array("SUBSCRIBE bench\r\n".utf8))
    _ = readBytes(fd, total: Array("*3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n".utf8).count)
    emit("{\"ready\": true}")
    let size = number("size", 64)
    let count = number("count")
    let perMessage = Array("*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$\(size)\r\n".utf8).count + size + 2
    var first: UInt64 = 0
    _ = readBytes(fd, total: perMessage * count) { first = nowNanos() }
    let seconds = Double(nowNanos() - first) / 1e9
    emit("{\"received\": \(count), \"rate\": \(Double(count) / seconds)}")
case "redis-pub":
    let fd = redisConnect()
    let size = number("size", 64)
    let count = number("count")
    let command =
        Array("*3\r\n$7\r\nPUBLISH\r\n$5\r\nbench\r\n$\(size)\r\n".utf8) + [UInt8](repeating: 0x5a, count: size)
        + [13, 10]
    // Pipelined in batches of 256, at most 4 batches unanswered (":1\r\n" per PUBLISH).
    let batch = 256
    let block = Array([[UInt8]](repeating: command, count: batch).joined())
    var sent = 0
    var replyBytes = 0
    while sent < count {
        let now = min(batch, count - sent)
        writeAll(fd, now == batch ? block : Array([[UInt8]](repeating: command, count: now).joined()))
        sent += now
        let outstanding = 4 * sent - replyBytes
        if outstanding > 4 * 4 * batch { replyBytes += readBytes(fd, total: outstanding - 4 * 4 * batch) }
    }
    if 4 * sent > replyBytes { replyBytes += readBytes(fd, total: 4 * sent - replyBytes) }
    emit("{\"sent\": \(sent)}")
case "attach-many":
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    let prefix = option("prefix")
    var clients: [GuestClient] = []
    for number in 0..<number("count") {
        clients.append(attach("\(prefix)\(number)", secret: "secret-\(prefix)\(number)"))
    }
    emit("{\"attached\": \(clients.count)}")
    var byte: UInt8 = 0
    _ = read(0, &byte, 1)
    for client in clients { client.close() }
default:
    fail("unknown mode \(mode)")
}
