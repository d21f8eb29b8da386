import ControlWire
import DeviceKit
import DeviceKitTesting
import EventLoop
import Foundation
import JSON
import Modem
import ModemSimWire
import PlatformConfig
import Testing

@testable import ModemServer

/// The modem device's glue (`Protocols/modem.md`, `Protocols/control.md` §14) driven in process, without
/// sockets: raw AT clients are `FakeByteStream`s connected to the device's fake listeners, the owner's channel is
/// a `FakeChannelEndpoint`, control calls go through the device's method table with a `FakeControlCaller`.
@Suite struct ModemGlueTests {
    static let atEndpoint = Endpoint.unix(path: "/fake/modem0.sock")

    /// The reference handset's modem0 (owner rtos, built-in simulator) with a raw AT listener and no PTY.
    static func configuration(_ adjust: (inout PlatformConfiguration) -> Void = { _ in }) -> PlatformConfiguration {
        var configuration = PlatformConfiguration.reference
        configuration.devices.ethernet = []
        configuration.devices.framebuffers = []
        configuration.devices.modems[0].listen = [atEndpoint]
        configuration.devices.modems[0].pty = nil
        adjust(&configuration)
        return configuration
    }

    struct Bench {
        let host: FakeDeviceHost
        let device = ModemDevice()
        let caller = FakeControlCaller()

        init(_ configuration: PlatformConfiguration = ModemGlueTests.configuration()) throws {
            host = try FakeDeviceHost(configuration: configuration)
            try device.start(host: host)
        }

        @discardableResult
        func call(_ method: String, _ params: JSON = [:]) -> ControlReply {
            caller.call(host.methods, method, params)
        }

        /// Types `text` on `stream` a byte at a time, running the loop after each byte.
        func type(_ text: String, on stream: FakeByteStream) {
            for byte in Array(text.utf8) {
                stream.receive([byte])
                host.runPasses()
            }
        }

        func stop() -> Int32 {
            device.stop()
            return host.shutdown()
        }
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func anATCommandTypedOneByteAtATimeIsAnsweredOnce() throws {
        let bench = try Bench()
        let at = try #require(bench.host.connect(to: Self.atEndpoint))
        bench.type("AT+CSQ\r", on: at)
        let written = Self.text(at.takeWritten())
        // ATE1 (the default) echoes the line, then the answer and one final result.
        #expect(written.hasPrefix("AT+CSQ\r"), "\(written.debugDescription)")
        #expect(written.contains("\r\n+CSQ: "), "\(written.debugDescription)")
        #expect(written.hasSuffix("\r\nOK\r\n") && written.components(separatedBy: "OK").count == 2)
        // The trace saw both directions.
        guard case .result(let trace) = bench.call("modem.trace") else { throw Failure("modem.trace failed") }
        let lines = trace["lines"]?.arrayValue ?? []
        #expect(lines.contains { $0["direction"] == "to_modem" && $0["line"] == "AT+CSQ" })
        #expect(lines.contains { $0["direction"] == "from_modem" && $0["line"] == "OK" })
        #expect(bench.stop() == 0)
    }

    /// `from` is an SMS address (TS 23.040 §9.1.2.5): the empty sender went out as an alphanumeric sender of
    /// nothing; it is refused, as are over-long numbers and senders, naming the parameter.
    @Test func smsDeliverRefusesASenderThatIsNoAddress() throws {
        let bench = try Bench()
        for bad in ["", "+1234567890123456789012", "SenderTooLong", "smile 😀"] {
            guard case .error(let error) = bench.call("modem.sms.deliver", ["from": .string(bad), "text": "hi"]) else {
                throw Failure("from \(bad.debugDescription) was accepted")
            }
            #expect(error.code.rawValue == -32602 && error.data?["param"] == "from", "\(bad): \(error)")
        }
        for good in ["+15551234567", "12345", "Bank", "ElevenChars"] {
            guard case .result(let result) = bench.call("modem.sms.deliver", ["from": .string(good), "text": "hi"])
            else {
                throw Failure("from \(good) was refused")
            }
            #expect(result["parts"] == 1, "\(good)")
        }
        #expect(bench.stop() == 0)
    }

    /// A text that needs more than 255 parts, and PDUs that are no SMS-DELIVER, are refused naming the parameter
    /// and what it takes (control.md §3.4), not `params`.
    @Test func smsDeliverRefusalsNameTheParameterAtFault() throws {
        let bench = try Bench()
        let long = String(repeating: "x", count: 65_536)
        guard case .error(let text) = bench.call("modem.sms.deliver", ["from": "12345", "text": .string(long)]) else {
            throw Failure("a text of 429 parts was accepted")
        }
        #expect(text.code.rawValue == -32602 && text.data?["param"] == "text", "\(text)")
        #expect(text.data?["expected"] == "a text of at most 255 parts", "\(text)")
        guard case .error(let pdus) = bench.call("modem.sms.deliver", ["pdus": ["00"]]) else {
            throw Failure("a PDU that is no SMS-DELIVER was accepted")
        }
        #expect(pdus.code.rawValue == -32602 && pdus.data?["param"] == "pdus", "\(pdus)")
        #expect(bench.stop() == 0)
    }

    @Test func modemWaitIsAnsweredByTheLineItWaitsFor() throws {
        let bench = try Bench()
        let at = try #require(bench.host.connect(to: Self.atEndpoint))
        let reply = bench.call(
            "modem.wait", ["at": ["pattern": "^\\+CSQ", "direction": "from_modem"], "timeoutMs": 60000])
        guard case .deferred = reply else { throw Failure("modem.wait answered at once: \(reply)") }
        bench.type("AT\r", on: at)
        #expect(bench.caller.answers.isEmpty, "an OK does not match")
        bench.type("AT+CSQ\r", on: at)
        let answers = bench.caller.takeAnswers()
        #expect(answers.count == 1)
        let line = answers.first?.result?["line"]?.stringValue ?? ""
        #expect(line.hasPrefix("+CSQ: "), "\(answers)")
        #expect(bench.device.waits.isEmpty)
        #expect(bench.stop() == 0)
    }

    @Test func modemWaitForACallIsAnsweredByTheNetworkEvent() throws {
        let bench = try Bench()
        guard case .deferred = bench.call("modem.wait", ["call": ["state": "incoming"], "timeoutMs": 60000]) else {
            throw Failure("answered at once")
        }
        bench.call("modem.call.incoming", ["number": "+15551234567"])
        // The wait (call 1) is answered by the event, before modem.call.incoming (call 2) returns.
        let answers = bench.caller.takeAnswers()
        #expect(answers.map(\.id) == [1, 2])
        #expect(answers.first?.result?["call"]?["number"] == "+15551234567")
        #expect(bench.host.events.contains { $0.kind == "modem.call" && $0.device == "modem0" })
        #expect(bench.stop() == 0)
    }

    @Test func modemWaitTimesOutWithTheTimeoutError() throws {
        let bench = try Bench()
        guard case .deferred = bench.call("modem.wait", ["at": ["pattern": "never"], "timeoutMs": 5]) else {
            throw Failure("answered at once")
        }
        let deadline = Date().addingTimeInterval(10)
        while bench.caller.answers.isEmpty, Date() < deadline {
            usleep(2000)
            bench.host.runPasses()
        }
        let answer = try #require(bench.caller.takeAnswers().first)
        #expect(answer.error?.code.rawValue == -32005, "\(answer)")
        #expect(bench.device.waits.isEmpty)
        #expect(bench.stop() == 0)
    }

    /// The family holds at most `controlMaxWaiters` waits (`Protocols/control.md` §8), not a fixed 256: one more
    /// is refused with -32004 naming `modemWaits`; a client that goes away frees its waits at once.
    @Test func theWaitLimitIsControlMaxWaitersAndRefusesWithItsError() throws {
        let bench = try Bench(ModemGlueTests.configuration { $0.hub.limits.controlMaxWaiters = 2 })
        let wait: JSON = ["at": ["pattern": "never"], "timeoutMs": 60000]
        guard case .deferred = bench.call("modem.wait", wait), case .deferred = bench.call("modem.wait", wait) else {
            throw Failure("the first two waits were not held")
        }
        let refused = bench.call("modem.wait", wait)
        guard case .error(let error) = refused else { throw Failure("a third wait was held: \(refused)") }
        #expect(error == ControlError.limitExceeded("modemWaits", value: 2, reason: "too_many_waits"))
        #expect(error.code.rawValue == -32004)
        #expect(bench.device.limitsJSON["modem0"]?["waits"] == 2)
        // The caller disconnects: its waits are forgotten and another client may wait.
        bench.caller.disconnect()
        let other = FakeControlCaller()
        guard case .deferred = other.call(bench.host.methods, "modem.wait", wait) else {
            throw Failure("the freed slots were not reused")
        }
        #expect(bench.device.waits.count == 1)
        #expect(bench.stop() == 0)
    }

    /// On an unshared modem a second socket is refused, and the owner's channel displaces the raw client, which
    /// is told why; both refusals are counted by the modem's admission gate (Protocols/modem.md §1).
    @Test func theOwnersChannelDisplacesARawClientAndASecondClientIsRefused() throws {
        let bench = try Bench()
        let first = try #require(bench.host.connect(to: Self.atEndpoint))
        let second = try #require(bench.host.connect(to: Self.atEndpoint))
        #expect(Self.text(second.takeWritten()) == "\r\nERROR: modem0 is already open (sharing is off)\r\n")
        #expect(second.closedAfterWrites)
        // Another partition may not open the owner's modem; the owner may, and the raw client gives way.
        let stranger = FakeChannelEndpoint(partition: "linux")
        guard case .failure(let refusal) = bench.device.openChannel(device: "modem0", options: [], endpoint: stranger)
        else { throw Failure("linux opened rtos's modem") }
        #expect(refusal.code == .notPermitted)
        let owner = FakeChannelEndpoint(partition: "rtos")
        guard case .success(let channel) = bench.device.openChannel(device: "modem0", options: [], endpoint: owner)
        else { throw Failure("the owner could not open its modem") }
        #expect(Self.text(first.takeWritten()) == "\r\nERROR: modem0 taken over by its owner rtos\r\n")
        #expect(first.closedAfterWrites)
        let gate = try #require(bench.host.admission.gates.first { $0.name == "modem:modem0" })
        #expect(gate.refusals[.displaced] == 1 && gate.refusals[.tooManyClients] == 1)
        // The owner's AT command, a byte at a time on its channel, is answered there.
        for byte in Array("AT\r".utf8) { channel.received([byte]) }
        #expect(Self.text(owner.takeSent().flatMap { $0 }).hasSuffix("\r\nOK\r\n"))
        #expect(bench.stop() == 0)
    }

    /// A raw AT client that never reads: its answers queue up in its own stream, the modem keeps serving the
    /// owner's channel, and the client is closed at the end without touching the others.
    @Test func aSlowATReaderDoesNotHoldUpTheOwnersChannel() throws {
        let bench = try Bench(ModemGlueTests.configuration { $0.devices.modems[0].shared = true })
        let slow = try #require(bench.host.connect(to: Self.atEndpoint))
        slow.peerReads = false
        let channel = FakeChannelEndpoint(partition: "rtos")
        guard case .success(let opened) = bench.device.openChannel(device: "modem0", options: [], endpoint: channel)
        else { throw Failure("the owner could not open its modem") }
        for _ in 0..<50 { bench.type("ATI\r", on: slow) }
        #expect(slow.queuedWriteBytes > 0)
        opened.received(Array("AT\r".utf8)[...])
        bench.host.runPasses()
        let owner = Self.text(channel.takeSent().flatMap { $0 })
        #expect(owner.hasSuffix("\r\nOK\r\n"), "\(owner.debugDescription)")
        #expect(bench.stop() == 0)
    }
}

/// The hub's side of the remote-simulator link (Protocols/modem.md §6) with the simulator played by a
/// `FakeByteStream`: garbage ends the link with a counted protocol error, and the host's settings survive.
@Suite struct ModemRemoteLinkGlueTests {
    static func configuration(directory: String) -> PlatformConfiguration {
        ModemGlueTests.configuration {
            // A listening backend: nothing dials out; the test hands the device its simulators directly.
            $0.devices.modems[0].backend = .listen(.unix(path: directory + "/backend.sock"))
        }
    }

    static let hello: JSON = ["protocol": "handsethub-modem-sim", "version": 1]

    /// A simulator that says hello; returns it with the hub's answering hello.
    static func connect(_ modem: ModemInstance, host: FakeDeviceHost) throws -> (FakeByteStream, JSON) {
        let simulator = FakeByteStream()
        modem.acceptSimulator(simulator)
        simulator.receive(ModemSimFrame.encode(.hello, json: hello))
        host.runPasses()
        var decoder = ModemSimFrameDecoder()
        let frames = try decoder.feed(simulator.takeWritten())
        let answer = try #require(frames.first { $0.kind == .hello })
        return (simulator, try JSON.parse(answer.payload))
    }

    static func backendLink(_ bench: ModemGlueTests.Bench) -> JSON? {
        guard case .result(let list) = bench.call("modem.list") else { return nil }
        return list["modems"]?[0]?["backendLink"]
    }

    @Test func garbageFromTheSimulatorEndsTheLinkCountedAndTheHostSettingsSurvive() throws {
        let directory = NSTemporaryDirectory() + "modem-glue-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bench = try ModemGlueTests.Bench(Self.configuration(directory: directory))
        let modem = try #require(bench.device.instances["modem0"])
        let (first, firstHello) = try Self.connect(modem, host: bench.host)
        #expect(firstHello["modem"] != nil && firstHello["settings"] == nil)
        // The host sets ATE0 and +CMEE=2 through this simulator, which reports it (§6.2).
        var settings = modem.hostSettings ?? .init()
        settings.echo = false
        settings.cmee = 2
        first.receive(ModemSimFrame.encode(.event, json: ["kind": "settings", "data": settings.json]))
        // A partial or broken report (a foreign or buggy simulator) changes what it says and nothing else.
        first.receive(ModemSimFrame.encode(.event, json: ["kind": "settings", "data": [:]]))
        first.receive(ModemSimFrame.encode(.event, json: ["kind": "settings", "data": ["zzz": 1, "clip": 1]]))
        bench.host.runPasses()
        #expect(modem.hostSettings?.echo == false && modem.hostSettings?.cmee == 2 && modem.hostSettings?.clip == 1)
        // Then garbage: raw AT where a frame belongs (a length of 0x41540D0A), a byte at a time.
        for byte in Array("AT\r\nOK".utf8) { first.receive([byte]) }
        bench.host.runPasses()
        #expect(!first.isOpen, "the link is closed")
        #expect(Self.backendLink(bench)?["protocolErrors"] == 1)
        #expect(bench.host.events.contains { $0.kind == "modem.backend" && $0.data["state"] == "disconnected" })

        // While no simulator is there, the host's command gets the error its +CMEE=2 asks for, without echo.
        let at = try #require(bench.host.connect(to: ModemGlueTests.atEndpoint))
        bench.type("AT\r", on: at)
        #expect(ModemGlueTests.text(at.takeWritten()) == "\r\n+CME ERROR: phone failure\r\n")

        // A peer whose first frame is not a hello, and one whose hello names another protocol, are refused too.
        let noHello = FakeByteStream()
        modem.acceptSimulator(noHello)
        noHello.receive(ModemSimFrame.encodeAT(Array("AT\r".utf8)))
        let stranger = FakeByteStream()
        modem.acceptSimulator(stranger)
        stranger.receive(ModemSimFrame.encode(.hello, json: ["protocol": "other", "version": 1]))
        bench.host.runPasses()
        #expect(!noHello.isOpen && !stranger.isOpen)
        var decoder = ModemSimFrameDecoder()
        let refusal = try #require(try decoder.feed(stranger.takeWritten()).first)
        #expect(try JSON.parse(refusal.payload)["error"] == "hello names another protocol")
        #expect(Self.backendLink(bench)?["protocolErrors"] == 3)

        // The next simulator gets the host's settings in the hub's hello.
        let (_, secondHello) = try Self.connect(modem, host: bench.host)
        #expect(secondHello["settings"]?["echo"] == false && secondHello["settings"]?["cmee"] == 2)
        #expect(Self.backendLink(bench)?["settingsHeld"] == true)
        #expect(bench.stop() == 0)
    }

    /// An event over 8192 bytes (`Protocols/modem.md` §6.1) is dropped and counted, and the link stays: the hub
    /// republishes events and keeps them in its replay ring, which bounds their count, not their size.
    @Test func anOversizedEventFromTheSimulatorIsDroppedAndCounted() throws {
        let directory = NSTemporaryDirectory() + "modem-glue-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let bench = try ModemGlueTests.Bench(Self.configuration(directory: directory))
        let modem = try #require(bench.device.instances["modem0"])
        let (simulator, _) = try Self.connect(modem, host: bench.host)
        let sms: (String) -> [UInt8] = { text in
            ModemSimFrame.encode(
                .event, json: ["kind": "sms.received", "data": ["from": "+1555", "text": .string(text)]])
        }
        simulator.receive(sms(String(repeating: "x", count: 60_000)))
        simulator.receive(sms("short"))
        bench.host.runPasses()
        let received = bench.host.events.filter { $0.kind == "modem.sms.received" }
        #expect(received.count == 1 && received.first?.data["text"] == "short")
        #expect(simulator.isOpen && Self.backendLink(bench)?["protocolErrors"] == 1)
        #expect(bench.stop() == 0)
    }

    /// A peer that connects and never says hello is given up at the deadline and counted as a timeout, as every
    /// missed deadline of the link is (`Protocols/modem.md` §6.3).
    @Test func aSimulatorThatNeverSaysHelloIsGivenUpAtTheDeadlineAndCounted() throws {
        let directory = NSTemporaryDirectory() + "modem-glue-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = Self.configuration(directory: directory)
        configuration.devices.modems[0].backendCommandTimeoutMs = 100
        let bench = try ModemGlueTests.Bench(configuration)
        let modem = try #require(bench.device.instances["modem0"])
        let silent = FakeByteStream()
        modem.acceptSimulator(silent)
        let deadline = Date().addingTimeInterval(10)
        while silent.isOpen, Date() < deadline {
            usleep(5000)
            bench.host.runPasses()
        }
        #expect(!silent.isOpen)
        #expect(Self.backendLink(bench)?["timeouts"] == 1)
        #expect(Self.backendLink(bench)?["protocolErrors"] == 0)
        #expect(bench.stop() == 0)
    }
}

extension ControlResponse {
    var result: JSON? {
        guard case .result(let value) = outcome else { return nil }
        return value
    }
    var error: ControlError? {
        guard case .error(let value) = outcome else { return nil }
        return value
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A raw AT client that sends commands and never reads the answers (`Sources/ARCHITECTURE.md`, "Backpressure";
/// Protocols/modem.md §1): it is not read while its unsent answers are past `writeHighWatermarkBytes`, so it
/// cannot make the hub queue answers without bound; once it reads, every command is answered, in order.
@Suite struct ModemSlowReaderTests {
    @Test func aClientThatNeverReadsIsNotReadPastTheHighWatermark() throws {
        let bench = try ModemGlueTests.Bench(
            ModemGlueTests.configuration {
                $0.hub.limits.writeHighWatermarkBytes = 4096
                $0.hub.limits.writeLowWatermarkBytes = 1024
            })
        let slow = try #require(bench.host.connect(to: ModemGlueTests.atEndpoint))
        slow.peerReads = false
        slow.maxReadBytes = 64
        let commands = 2000
        slow.receive(Array(String(repeating: "ATI\r", count: commands).utf8))
        bench.host.runPasses()
        #expect(!slow.isReading && !slow.unread.isEmpty, "the client is no longer read")
        #expect(slow.queuedWriteBytes <= 4096 + 4096, "at most one read's answers past the watermark")
        // The client reads: it is read again, a slice at a time, and in the end every command is answered.
        var answered = 0
        var rounds = 0
        while (!slow.unread.isEmpty || slow.queuedWriteBytes > 0), rounds < 10_000 {
            answered += ModemGlueTests.text(slow.takeWritten()).components(separatedBy: "\r\nOK\r\n").count - 1
            slow.drain()
            bench.host.runPasses()
            rounds += 1
        }
        answered += ModemGlueTests.text(slow.takeWritten()).components(separatedBy: "\r\nOK\r\n").count - 1
        #expect(answered == commands)
        #expect(bench.stop() == 0)
    }
}

/// Raw AT socket clients have no authentication (`Protocols/modem.md` §1): one client's lines are taken at most
/// `modemRawLinesPerPass` a loop pass, and an opener of a shared modem that leaves more than
/// `modemOpenerMaxUnsentBytes` of the modem's output unread is closed (the PTY drops instead).
@Suite struct ModemRawFloodTests {
    static func finals(_ stream: FakeByteStream) -> Int {
        ModemGlueTests.text(stream.takeWritten()).components(separatedBy: "\r\nOK\r\n").count - 1
    }

    @Test func aClientsLinesAreTakenAtMostLinesPerPassEachPass() throws {
        let bench = try ModemGlueTests.Bench(ModemGlueTests.configuration { $0.hub.limits.modemRawLinesPerPass = 4 })
        let at = try #require(bench.host.connect(to: ModemGlueTests.atEndpoint))
        at.receive(Array(String(repeating: "AT\r", count: 10).utf8))
        // Read, not yet taken: nothing runs inside the read, and nothing more is read until all was taken.
        #expect(Self.finals(at) == 0)
        #expect(!at.isReading)
        var perPass: [Int] = []
        for _ in 0..<4 {
            bench.host.runPasses()
            perPass.append(Self.finals(at))
        }
        #expect(perPass == [4, 4, 2, 0])
        #expect(at.isReading)
        // A line cut by the slice's end, or sent in pieces, is still one line.
        at.receive(Array("AT+CS".utf8))
        bench.host.runPasses()
        at.receive(Array("Q\rAT\r".utf8))
        bench.host.runPasses()
        let written = ModemGlueTests.text(at.takeWritten())
        #expect(written.contains("+CSQ: ") && written.components(separatedBy: "\r\nOK\r\n").count - 1 == 2)
        #expect(bench.stop() == 0)
    }

    @Test func whatWasReadIsNotTakenWhileTheClientsOutputIsPastTheHighWatermark() throws {
        let bench = try ModemGlueTests.Bench(
            ModemGlueTests.configuration {
                $0.hub.limits.modemRawLinesPerPass = 2
                $0.hub.limits.writeHighWatermarkBytes = 4096
                $0.hub.limits.writeLowWatermarkBytes = 1024
            })
        let at = try #require(bench.host.connect(to: ModemGlueTests.atEndpoint))
        at.peerReads = false
        at.receive(Array(String(repeating: "AT+CLAC\r", count: 40).utf8))
        bench.host.runPasses(20)
        // Taken until the output passed 4 KiB, then nothing: at most one slice's answers past the watermark.
        #expect(at.isAboveHighWatermark)
        let queued = at.queuedWriteBytes
        bench.host.runPasses(5)
        #expect(at.queuedWriteBytes == queued)
        var answered = Self.finals(at)
        #expect(answered < 40)
        // The client reads: the rest is taken, a slice a pass, every line answered.
        var rounds = 0
        while answered < 40, rounds < 1000 {
            at.drain()
            bench.host.runPasses()
            answered += Self.finals(at)
            rounds += 1
        }
        #expect(answered == 40)
        #expect(bench.stop() == 0)
    }

    @Test func aSharedModemsOpenerThatNeverReadsIsClosedPastItsLimitAndTheOthersAreServed() throws {
        let bench = try ModemGlueTests.Bench(
            ModemGlueTests.configuration {
                $0.devices.modems[0].shared = true
                $0.hub.limits.modemOpenerMaxUnsentBytes = 64 << 10
            })
        let silent = try #require(bench.host.connect(to: ModemGlueTests.atEndpoint))
        silent.peerReads = false
        let busy = try #require(bench.host.connect(to: ModemGlueTests.atEndpoint))
        var rounds = 0
        while silent.isOpen, rounds < 10_000 {
            busy.receive(Array("AT+CLAC\r".utf8))
            bench.host.runPasses()
            _ = busy.takeWritten()
            rounds += 1
        }
        #expect(!silent.isOpen)
        let last = ModemGlueTests.text(silent.takeWritten().suffix(80))
        #expect(last.hasSuffix("\r\nERROR: not_reading: more than 65536 bytes of output unread\r\n"), "\(last)")
        // The queue never held much more than the limit: one write past it.
        #expect(silent.queuedWriteBytes <= (64 << 10) + 4096)
        guard case .result(let list) = bench.call("modem.list") else { throw Failure("modem.list failed") }
        #expect(list["modems"]?[0]?["openersClosedNotReading"] == 1)
        busy.receive(Array("AT\r".utf8))
        bench.host.runPasses()
        #expect(ModemGlueTests.text(busy.takeWritten()).hasSuffix("\r\nOK\r\n"))
        #expect(bench.stop() == 0)
    }
}

/// The host PTY is always attached, and nobody may have the port open: past `modemOpenerMaxUnsentBytes` of unsent
/// output it drops what it cannot hold (counted), as a serial line no one listens on, instead of queueing it all.
@Suite struct ModemPTYOverflowTests {
    @Test func aPTYNobodyReadsDropsOutputPastTheLimitAndCountsIt() throws {
        let link = "/tmp/hh-pty-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(link) }
        let bench = try ModemGlueTests.Bench(
            ModemGlueTests.configuration {
                $0.devices.modems[0].shared = true
                $0.devices.modems[0].pty = link
                $0.hub.limits.modemOpenerMaxUnsentBytes = 64 << 10
            })
        let busy = try #require(bench.host.connect(to: ModemGlueTests.atEndpoint))
        func dropped() throws -> Int {
            guard case .result(let list) = bench.call("modem.list") else { throw Failure("modem.list failed") }
            return list["modems"]?[0]?["ptyDroppedBytes"]?.intValue ?? -1
        }
        var rounds = 0
        while try dropped() == 0, rounds < 10_000 {
            busy.receive(Array("AT+CLAC\r".utf8))
            bench.host.runPasses()
            _ = busy.takeWritten()
            rounds += 1
        }
        #expect(try dropped() > 0)
        let pty = try #require(bench.device.instances["modem0"]?.pty)
        #expect(pty.connection.unsentBytes <= (64 << 10) + 4096)
        busy.receive(Array("AT\r".utf8))
        bench.host.runPasses()
        #expect(ModemGlueTests.text(busy.takeWritten()).hasSuffix("\r\nOK\r\n"))
        #expect(bench.stop() == 0)
    }
}
