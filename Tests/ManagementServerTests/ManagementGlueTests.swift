import ControlWire
import Crypto
import DeviceKit
import DeviceKitTesting
import Foundation
import GuestWire
import JSON
import Management
import ManagementServer
import ManagementWire
import PlatformConfig
import Testing

/// The management device on a `FakeDeviceHost`: commands through `mgmt.submit`, the trusted state and audit
/// log in a temporary state directory, a restart played by a second device over the same directory.
enum Keys {
    static let seeds: [[UInt8]] = [Array(0..<32), Array(32..<64), Array(64..<96)]
    static func key(_ index: Int) -> Curve25519.Signing.PrivateKey {
        try! Curve25519.Signing.PrivateKey(rawRepresentation: seeds[index])
    }
    static func publicHex(_ index: Int) -> String { HexKey.text(Array(key(index).publicKey.rawRepresentation)) }
}

let now: UInt64 = 1_700_000_000_000

func envelope(
    _ operation: String = "upgrade", target: String = "linux", counter: UInt64, expires: UInt64 = now + 60_000,
    parameters: [(key: String, value: String)] = [], signers: [Int] = [0]
) -> String {
    let command = ManagementCommand(
        operation: operation, target: target, authority: "designer", counter: counter, expiresAtMs: expires,
        parameters: ManagementCodec.sortedParameters(parameters))
    let input = ManagementCodec.signingInput(ManagementCodec.encodeBody(command))
    let signatures = signers.map { index in
        ManagementSignature(
            keyID: ManagementVerifier.keyID(Array(Keys.key(index).publicKey.rawRepresentation)),
            signature: Array(try! Keys.key(index).signature(for: input)))
    }
    return Base64.encode(ManagementCodec.encodeEnvelope(ManagementEnvelope(body: command, signatures: signatures)))
}

final class Rig {
    let directory: String
    let host: FakeDeviceHost
    let device: ManagementDevice
    let caller = FakeControlCaller()

    /// `auditSegmentEntries`: half the log unless given, so the tests see several segments.
    init(directory: String, auditMaxEntries: Int = 16, auditSegmentEntries: Int? = nil) throws {
        self.directory = directory
        var configuration = PlatformConfiguration.reference
        configuration.hub.stateDirectory = directory
        if let index = configuration.partitions.firstIndex(where: { $0.name == "mgmt" }) {
            configuration.partitions[index].mayManage = true
        }
        configuration.management = ManagementConfig(
            authorities: [
                ManagementAuthorityConfig(
                    name: "designer", keys: [Keys.publicHex(0)],
                    grants: [ManagementGrant(operations: ["upgrade"], partitions: ["linux"])])
            ], auditMaxEntries: auditMaxEntries)
        configuration.management.auditSegmentEntries = auditSegmentEntries ?? max(1, auditMaxEntries / 2)
        host = try FakeDeviceHost(configuration: configuration)
        host.wallClockNanos = now * 1_000_000
        device = try ManagementDevice(configuration: configuration)
        try device.start(host: host)
    }

    /// The answer's `data.reason` for a refusal, `accepted` for a result.
    func submit(_ text: String) -> String {
        switch caller.call(host.methods, "mgmt.submit", ["envelope": .string(text)]) {
        case .result, .encodedResult: "accepted"
        case .error(let error): error.reason ?? "?"
        case .deferred: "deferred"
        }
    }

    /// The management relay opened for `endpoint` (its partition may manage); the test fails if it is refused.
    func openRelay(_ endpoint: FakeChannelEndpoint) throws -> any GuestChannel {
        try device.openChannel(device: "management", options: [], endpoint: endpoint).get()
    }

    /// The relay opened for a new `mgmt` endpoint, with operations held until the test finishes them.
    fileprivate func openRelayWithDeferredOperations() throws -> (
        DeferringExecutor, FakeChannelEndpoint, any GuestChannel
    ) {
        let executor = DeferringExecutor()
        device.executor = executor
        let endpoint = FakeChannelEndpoint(partition: "mgmt")
        return (executor, endpoint, try openRelay(endpoint))
    }

    func result(_ method: String, _ params: JSON = [:]) -> JSON? {
        if case .result(let json) = caller.call(host.methods, method, params) { return json }
        return nil
    }

    deinit { _ = host.shutdown() }
}

/// A new directory under the system's temporary directory; each test removes its own when it ends (a `defer`
/// before its first `Rig`, so it runs after every rig over the directory has shut down).
func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "mgmt-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite struct ManagementGlueTests {
    @Test func submitAnswersEachCodeAndAuditsIt() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        #expect(rig.submit(envelope(counter: 1)) == "operation_unavailable")
        #expect(rig.submit(envelope(counter: 1)) == "replayed")
        #expect(rig.submit(envelope(counter: 2, signers: [1])) == "bad_signature")
        #expect(rig.submit(envelope(counter: 2, expires: now)) == "expired")
        #expect(rig.submit(envelope(target: "rtos", counter: 2)) == "not_authorised")
        #expect(rig.submit(Base64.encode([0x48, 0x48, 0x4D, 0x31, 0, 0])) == "bad_envelope")
        #expect(rig.submit(String(repeating: "A", count: 30000)) == "bad_envelope")
        let audit = try #require(rig.result("mgmt.audit", ["from": 1, "limit": 100]))
        let results = audit["entries"]?.arrayValue?.compactMap { $0["result"]?.stringValue }
        // The verified command's write-ahead entry, then its outcome (management.md §5).
        #expect(
            results == [
                "verified", "operation_unavailable", "replayed", "bad_signature", "expired", "not_authorised",
                "bad_envelope",
                "bad_envelope",
            ])
        #expect(rig.host.events.map(\.kind).filter { $0 == "mgmt.refused" }.count == 7)
        let status = try #require(rig.result("mgmt.status"))
        #expect(status["authorities"]?[0]?["counter"]?.stringValue == "1")
    }

    /// After a restart (a new device over the same state directory) the replay is still refused and the audit
    /// log is still there.
    @Test func replayAfterRestartIsRefused() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try Rig(directory: directory)
        #expect(first.submit(envelope(counter: 7)) == "operation_unavailable")
        first.device.stop()  // an orderly stop writes the refusals the pass had not written yet
        let second = try Rig(directory: directory)
        #expect(second.submit(envelope(counter: 7)) == "replayed")
        #expect(second.submit(envelope(counter: 6)) == "replayed")
        let audit = try #require(second.result("mgmt.audit"))
        #expect(audit["entries"]?.arrayValue?.count == 4)  // verified, operation_unavailable, replayed, replayed
        #expect(second.submit(envelope(counter: 8)) == "operation_unavailable")
    }

    /// Each signature an envelope carries is charged to the submitter's control budget as
    /// `signatureCheckWorkBytes` (`Protocols/control.md` §2.7), accepted or not: a client sending forged envelopes
    /// back to back gets a few milliseconds of checks per pass, not a pass of them. Text that never decodes costs
    /// no check and is charged nothing beyond its bytes.
    @Test func aSubmissionIsChargedForTheSignaturesItCarries() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        let method = try #require(rig.host.methods.first { $0.name == "mgmt.submit" })
        func charged(_ text: String) throws -> Int {
            let call = rig.caller.makeCall("mgmt.submit", ["envelope": .string(text)])
            _ = try method.handler(call)
            return call.workBytes
        }
        let check = ManagementDevice.signatureCheckWorkBytes
        #expect(try charged(envelope(counter: 1)) == check)
        // Forged: a current key's id with random bytes for a signature; two of them.
        let signed = try ManagementCodec.decodeEnvelope(
            try #require(Base64.decode(envelope(counter: 2, signers: [0, 1])))[...])
        let forged = ManagementEnvelope(
            body: signed.body,
            signatures: signed.signatures.map {
                ManagementSignature(keyID: $0.keyID, signature: Array(repeating: 7, count: 64))
            })
        #expect(try charged(Base64.encode(ManagementCodec.encodeEnvelope(forged))) == 2 * check)
        #expect(try charged(Base64.encode([1, 2, 3])) == 0)
        #expect(rig.submit(Base64.encode(ManagementCodec.encodeEnvelope(forged))) == "bad_signature")
    }

    @Test func rotationPersistsAcrossRestart() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try Rig(directory: directory)
        let rotate = envelope(
            "rotateKeys", target: "designer", counter: 1,
            parameters: [("keys", Keys.publicHex(1)), ("threshold", "1")])
        #expect(first.submit(rotate) == "accepted")
        let accepted = try #require(first.host.events.last)
        #expect(accepted.kind == "mgmt.accepted")
        #expect(accepted.data["operation"]?.stringValue == "rotateKeys")
        #expect(accepted.data["source"]?.stringValue == "control")
        #expect(first.submit(envelope(counter: 2)) == "bad_signature")
        let second = try Rig(directory: directory)
        #expect(second.submit(envelope(counter: 2)) == "bad_signature")
        #expect(second.submit(envelope(counter: 2, signers: [1])) == "operation_unavailable")
    }

    /// A trust file that cannot be read stops the device from starting, rather than forgetting counters.
    @Test func corruptStateRefusesToStart() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/management", withIntermediateDirectories: true)
        try Data("{\"version\":1,\"authorities\":{\"designer\":{}}}".utf8).write(
            to: URL(fileURLWithPath: directory + "/management/trust.json"))
        #expect(throws: HubStartError.self) { _ = try Rig(directory: directory) }
    }

    /// When the trusted state cannot be written the command is refused and its counter not spent.
    @Test func unwritableStateRefusesAndSpendsNothing() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        try FileManager.default.createDirectory(
            atPath: directory + "/management/trust.json", withIntermediateDirectories: true)
        #expect(rig.submit(envelope(counter: 1)) == "state_unwritable")
        try FileManager.default.removeItem(atPath: directory + "/management/trust.json")
        #expect(rig.submit(envelope(counter: 1)) == "operation_unavailable")
    }

    /// The audit log keeps its newest `auditMaxEntries` (16 here), also across a restart.
    @Test func auditLogIsBounded() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        for _ in 0..<20 { _ = rig.submit(envelope(counter: 0)) }
        rig.host.runPasses(1)  // refusals are written at the end of the pass
        let again = try Rig(directory: directory)
        let audit = try #require(again.result("mgmt.audit", ["limit": 1000]))
        let sequences = audit["entries"]?.arrayValue?.compactMap { $0["seq"]?.intValue }
        #expect(sequences == Array(5...20))
    }

    /// The `mgmt` partition relays over the `management` channel; its commands pass the same checks (a
    /// replay of a command first sent through the control API is refused) and are audited with their source.
    /// A partition without `mayManage` cannot open the channel.
    @Test func relayIsAnAgentNotAnAuthority() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        #expect(rig.submit(envelope(counter: 1)) == "operation_unavailable")
        let endpoint = FakeChannelEndpoint(partition: "mgmt")
        let channel = try rig.openRelay(endpoint)
        let replay = Base64.decode(envelope(counter: 1))!
        channel.received(replay[...])
        let unsigned = ManagementCodec.encodeEnvelope(
            ManagementEnvelope(
                body: ManagementCommand(
                    operation: "upgrade", target: "linux", authority: "designer", counter: 2,
                    expiresAtMs: now + 1000),
                signatures: [
                    ManagementSignature(keyID: Array(repeating: 0, count: 8), signature: Array(repeating: 0, count: 64))
                ]))
        channel.received(unsigned[...])
        channel.received([1, 2, 3][...])
        rig.host.runPasses(3)  // one envelope a pass
        let answers = try endpoint.takeSent().map { try ManagementRelayResult.decode($0[...]).code }
        #expect(answers == ["replayed", "bad_signature", "bad_envelope"])
        #expect(endpoint.holds == 3)
        let audit = try #require(rig.result("mgmt.audit"))
        #expect(audit["entries"]?[2]?["source"]?.stringValue == "guest:mgmt")  // after the verified command's two
        let other = FakeChannelEndpoint(partition: "linux")
        guard case .failure(let refusal) = rig.device.openChannel(device: "management", options: [], endpoint: other)
        else {
            Issue.record("linux opened the relay")
            return
        }
        #expect(refusal.code == .notPermitted)
    }

    /// Segments hold `auditSegmentEntries`, however small the log: a flood of refusals, which anyone who may
    /// submit can cause, starts a new segment (three fsyncs on the loop) once per segment, not once per half log.
    @Test func theSegmentSizeNotTheLogSizeSetsHowOftenRefusalsStartASegment() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory, auditMaxEntries: 16, auditSegmentEntries: 1000)
        for _ in 0..<300 { #expect(rig.submit("AAAA") == "bad_envelope") }
        let names = try FileManager.default.contentsOfDirectory(atPath: rig.directory + "/management")
        #expect(names.filter { $0.hasPrefix("audit.") }.sorted() == ["audit.1.jsonl"])
        #expect((rig.result("mgmt.audit", ["limit": 1000])?["entries"]?.arrayValue ?? []).count == 16)
        #expect(rig.device.limitsJSON["auditSegmentEntries"] == 1000)
    }

    /// The relay takes one envelope a pass and answers in the order the envelopes came; past 16 waiting, one is
    /// refused `relay_busy` (unaudited), its answer after those of the envelopes before it.
    @Test func theRelayTakesOneEnvelopeAPassAndAnswersInOrder() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        let endpoint = FakeChannelEndpoint(partition: "mgmt")
        let channel = try rig.openRelay(endpoint)
        func answers() throws -> [String] {
            try endpoint.takeSent().map { try ManagementRelayResult.decode($0[...]).code }
        }
        for index in 0..<20 { channel.received([1, 2, UInt8(index)][...]) }  // one read's worth of bad envelopes
        #expect(try answers() == ["bad_envelope"])
        rig.host.runPasses(1)  // the pass the first was taken in takes no other
        #expect(try answers() == [])
        for pass in 0..<15 {
            rig.host.runPasses(1)
            #expect(try answers() == ["bad_envelope"], "pass \(pass)")
        }
        rig.host.runPasses(1)
        #expect(try answers() == ["bad_envelope", "relay_busy", "relay_busy", "relay_busy"])
        rig.host.runPasses(3)
        #expect(try answers() == [])
        let counters = rig.result("mgmt.status")?["counters"]
        #expect(counters?["results"]?["relay_busy"] == 3 && counters?["results"]?["bad_envelope"] == 17)
        #expect((rig.result("mgmt.audit", ["limit": 1000])?["entries"]?.arrayValue ?? []).count == 16)
    }

    /// Every entry is appended to the newest segment before the answer, one line each, with no pass in between
    /// and without rewriting what is there: refusals one line, a verified command two (its write-ahead `verified`
    /// entry, then its outcome) (management.md §5).
    @Test func everyEntryIsOneLineAppendedBeforeTheAnswer() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        func writes() -> Int64 { rig.result("mgmt.status")?["counters"]?["auditWrites"]?.int64Value ?? -1 }
        func lines() -> [String] {
            let text = (try? String(contentsOfFile: directory + "/management/audit.1.jsonl", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").map(String.init)
        }
        for count in 1...5 {
            #expect(rig.submit(Base64.encode([1, 2, 3])) == "bad_envelope")
            #expect(writes() == Int64(count))
            #expect(lines().count == 1 + count)  // the header, then one line per entry
        }
        #expect(rig.submit(envelope(counter: 1)) == "operation_unavailable")
        #expect(writes() == 7)
        let last = lines().suffix(2).compactMap { try? JSON.parse($0)["result"]?.stringValue }
        #expect(last == ["verified", "operation_unavailable"])
        #expect(rig.device.limitsJSON["auditRefusalWriteIntervalMs"] == nil)
    }

    /// `mgmt.wait` is answered by the next matching audit entry, not by one that does not match; an entry
    /// already logged after `after` answers at once.
    @Test func waitIsAnsweredByTheNextMatchingEntry() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        let waiter = FakeControlCaller()
        let reply = waiter.call(rig.host.methods, "mgmt.wait", ["timeoutMs": 5000, "result": "replayed"])
        guard case .deferred = reply else {
            Issue.record("answered before anything was audited: \(reply)")
            return
        }
        #expect(rig.submit(envelope(counter: 1)) == "operation_unavailable")
        #expect(waiter.takeAnswers().isEmpty)
        #expect(rig.submit(envelope(counter: 1)) == "replayed")
        let answers = waiter.takeAnswers()
        #expect(answers.count == 1)
        #expect(answers.first?.result?["entry"]?["seq"]?.intValue == 3)  // 1 verified, 2 its outcome
        guard
            case .result(let past) = rig.caller.call(
                rig.host.methods, "mgmt.wait", ["timeoutMs": 0, "after": 0, "result": "operation_unavailable"])
        else {
            Issue.record("an entry already logged did not answer at once")
            return
        }
        #expect(past["entry"]?["seq"]?.intValue == 2)
        // A wait for any result is answered by an outcome, never by a `verified` write-ahead entry; one asking for
        // `verified` by name is.
        let any = waiter.call(rig.host.methods, "mgmt.wait", ["timeoutMs": 5000])
        guard case .deferred = any else {
            Issue.record("answered before anything was audited: \(any)")
            return
        }
        let named = waiter.call(rig.host.methods, "mgmt.wait", ["timeoutMs": 5000, "result": "verified"])
        guard case .deferred = named else {
            Issue.record("answered before anything was audited: \(named)")
            return
        }
        #expect(rig.submit(envelope(counter: 2)) == "operation_unavailable")
        let results = waiter.takeAnswers().compactMap { $0.result?["entry"]?["result"]?.stringValue }
        #expect(results.sorted() == ["operation_unavailable", "verified"])
    }
}

/// Local requests on the relay channel (`Protocols/management.md` §2.6): the agent reads and resets error
/// logs through the hub's `errors.*` methods, and nothing else of the control API.
@Suite struct ManagementLocalRequestTests {
    @Test func agentReadsErrorLogsAndNothingElse() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        var called: [String] = []
        rig.host.register([
            ControlMethod("errors.read", summary: "fake") { call throws(ControlError) in
                called.append("errors.read")
                let params = try ControlParams(call.params, allowed: ["partition", "since", "limit"])
                let partition = try params.requireString("partition")
                guard partition == "linux" else { throw .notFound("partition", name: partition) }
                return .result(["partition": .string(partition), "entries": []])
            },
            ControlMethod("partition.stop", summary: "fake") { _ throws(ControlError) in
                called.append("partition.stop")
                return .result([:])
            },
        ])
        let endpoint = FakeChannelEndpoint(partition: "mgmt")
        guard case .success(let channel) = rig.device.openChannel(device: "management", options: [], endpoint: endpoint)
        else {
            Issue.record("mgmt could not open the channel")
            return
        }
        func ask(_ json: String) { channel.received(ManagementLocalRequest.encode(json: Array(json.utf8))[...]) }
        ask(#"{"operation":"errors.read","partition":"linux","since":0}"#)
        ask(#"{"operation":"partition.stop","partition":"linux"}"#)
        ask(#"{"operation":"errors.read","partition":"nobody"}"#)
        ask(#"{"operation":"errors.read","partition":"linux","limit":500}"#)
        // Below the range, or not a number: refused here with this channel's range, not errors.read's wider one.
        ask(#"{"operation":"errors.read","partition":"linux","limit":0}"#)
        ask(#"{"operation":"errors.read","partition":"linux","limit":"5"}"#)
        ask("not json")
        channel.received(ManagementLocalRequest.magic[...])
        rig.host.runPasses(8)  // one request a pass
        let answers = try endpoint.takeSent().map { try ManagementRelayResult.decode($0[...]) }
        #expect(
            answers.map(\.code) == [
                "accepted", "unknown_operation", "no_such_partition", "bad_request", "bad_request", "bad_request",
                "bad_request", "bad_request",
            ])
        #expect(answers[3...5].allSatisfy { $0.detail == "limit must be an integer in 1...100" })
        #expect(answers.first?.output.contains(#""partition":"linux""#) == true)
        #expect(called == ["errors.read", "errors.read"])
        // Local requests are not management commands: nothing audited.
        #expect(rig.host.events.filter { $0.kind.hasPrefix("mgmt.") }.isEmpty)
    }
}

/// An executor whose operations finish when the test says (as the slots' do once their file work is done).
private final class DeferringExecutor: ManagementOperationExecutor {
    var pending: [(Result<JSON, ManagementRefusal>) -> Void] = []

    func execute(_ command: VerifiedCommand) -> Result<JSON, ManagementRefusal> { .success(["now": true]) }

    func execute(_ command: VerifiedCommand, completion: @escaping (Result<JSON, ManagementRefusal>) -> Void) {
        pending.append(completion)
    }

    func finishNext() { pending.removeFirst()(.success(["partition": "linux"])) }
}

/// A control caller that, when answered, reads whether the audit log on disk already holds an accepted entry.
private final class AuditReadingCaller: ControlCaller {
    let auditPath: String
    var answers: [(response: ControlResponse, auditedBefore: Bool)] = []
    let callerDescription = "test"

    init(auditPath: String) { self.auditPath = auditPath }

    func answered(_ call: ControlCall, with response: ControlResponse) {
        let text = (try? String(contentsOfFile: auditPath, encoding: .utf8)) ?? ""
        answers.append((response, text.contains("\"accepted\"")))
    }
}

@Suite struct ManagementDeferredAnswerTests {
    /// A command whose operation finishes later is answered then, on the control API, after its audit entry is on
    /// disk; a caller gone meanwhile only loses the answer (the entry is still written).
    @Test func mgmtSubmitIsAnsweredWhenTheOperationFinishesAfterItsAuditEntry() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        let executor = DeferringExecutor()
        rig.device.executor = executor
        let caller = AuditReadingCaller(auditPath: rig.directory + "/management/audit.1.jsonl")
        let call = ControlCall(
            id: .int(1), method: "mgmt.submit", params: ["envelope": .string(envelope(counter: 1))], caller: caller)
        let method = try #require(rig.host.methods.first { $0.name == "mgmt.submit" })
        guard case .deferred = try method.handler(call) else {
            Issue.record("answered before the operation finished")
            return
        }
        #expect(caller.answers.isEmpty)
        // Only the write-ahead entry while it runs (Protocols/management.md §5).
        #expect(auditResults(rig) == ["verified"])
        // The counter is spent while the operation runs.
        #expect(rig.submit(envelope(counter: 1)) == "replayed")
        executor.finishNext()
        #expect(caller.answers.count == 1 && caller.answers.first?.auditedBefore == true)
        #expect(caller.answers.first?.response.result?["result"]?.stringValue == "accepted")
        // Gone before the answer: the command still finishes and is audited.
        let gone = ControlCall(
            id: .int(2), method: "mgmt.submit", params: ["envelope": .string(envelope(counter: 2))], caller: caller)
        _ = try method.handler(gone)
        gone.callerClosed()
        executor.finishNext()
        #expect(caller.answers.count == 1)
        #expect(auditResults(rig) == ["verified", "replayed", "accepted", "verified", "accepted"])
        // Each outcome names its own `verified` entry; the replay audited in between names none, so a hub
        // killed before the outcome would still give the `verified` entry its `interrupted` outcome at start.
        let entries = rig.result("mgmt.audit")?["entries"]?.arrayValue ?? []
        let links = entries.map { $0["outcomeOf"]?.uint64Value }
        let sequences = entries.compactMap { $0["seq"]?.uint64Value }
        #expect(sequences.count == 5 && links == [nil, nil, sequences[0], nil, sequences[3]])
    }

    /// On the relay an envelope whose operation finishes later holds the channel: the envelopes behind it are
    /// taken, audited and answered only after its answer, in order.
    @Test func theRelayTakesNothingMoreUntilTheLongOperationIsAnswered() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        let (executor, endpoint, channel) = try rig.openRelayWithDeferredOperations()
        func answers() throws -> [String] {
            try endpoint.takeSent().map { try ManagementRelayResult.decode($0[...]).code }
        }
        channel.received(Base64.decode(envelope(counter: 1))![...])
        channel.received([1, 2, 3][...])
        rig.host.runPasses(4)
        #expect(try answers() == [])
        #expect(auditResults(rig) == ["verified"])
        executor.finishNext()
        #expect(try answers() == ["accepted"])
        rig.host.runPasses(3)
        #expect(try answers() == ["bad_envelope"])
        #expect(auditResults(rig) == ["verified", "accepted", "bad_envelope"])
    }

    /// While an envelope's operation runs, an agent that floods the relay is owed at most `relayMaxOwedBusy`
    /// `relay_busy` answers; the envelope after that closes the channel (rate_limited), so the pass in which the
    /// operation ends sends a bounded number of answers, not one per envelope flooded meanwhile.
    @Test func aRelayFloodedWhileAnOperationRunsIsClosedAtTheOwedBound() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        let (executor, endpoint, channel) = try rig.openRelayWithDeferredOperations()
        channel.received(Base64.decode(envelope(counter: 1))![...])
        let bound = 16 + 256
        for pass in 0..<bound {
            channel.received([1, 2, UInt8(pass & 0xff)][...])
            if pass % 100 == 0 { rig.host.runPasses(1) }
        }
        #expect(endpoint.closedWith == nil)
        channel.received([9][...])
        #expect(endpoint.closedWith?.code == GuestErrorCode.rateLimited.rawValue)
        #expect(endpoint.closedWith?.reason.contains("256 more were refused relay_busy") == true)
        // Whatever else arrives is ignored; the operation still ends, audited, its answer not sent.
        for _ in 0..<1000 { channel.received([7][...]) }
        executor.finishNext()
        rig.host.runPasses(3)
        #expect(endpoint.takeSent().isEmpty)
        #expect(auditResults(rig) == ["verified", "accepted"])
        let results = rig.result("mgmt.status")?["counters"]?["results"]
        #expect(results?["relay_busy"] == 256 && results?["relay_flooded"] == 1)
        #expect(rig.device.limitsJSON["relayMaxOwedBusy"] == 256)
    }

    /// Under the bound the owed answers all go out, in order, after the running envelope's.
    @Test func owedRelayBusyAnswersFollowTheRunningEnvelopesAnswer() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let rig = try Rig(directory: directory)
        let (executor, endpoint, channel) = try rig.openRelayWithDeferredOperations()
        channel.received(Base64.decode(envelope(counter: 1))![...])
        for index in 0..<(16 + 40) { channel.received([1, 2, UInt8(index)][...]) }
        rig.host.runPasses(2)
        executor.finishNext()
        rig.host.runPasses(40)
        let codes = try endpoint.takeSent().map { try ManagementRelayResult.decode($0[...]).code }
        let expected =
            ["accepted"] + Array(repeating: "bad_envelope", count: 16) + Array(repeating: "relay_busy", count: 40)
        #expect(codes == expected)
        #expect(endpoint.closedWith == nil)
    }

    private func auditResults(_ rig: Rig) -> [String] {
        (rig.result("mgmt.audit")?["entries"]?.arrayValue ?? []).compactMap { $0["result"]?.stringValue }
    }
}
