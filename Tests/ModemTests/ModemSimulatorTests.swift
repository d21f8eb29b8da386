import ATWire
import Modem
import Testing

/// A host talking to the simulator, with a manual clock in milliseconds.
final class Host {
    let modem: ModemSimulator
    var clock: UInt64 = 1000
    var transcript = ""

    init(_ profile: ModemProfile = ModemProfile()) {
        modem = ModemSimulator(profile: profile, now: clock)
    }

    /// Sends a line (CR appended) and returns everything the modem wrote back.
    @discardableResult
    func send(_ line: String, cr: Bool = true) -> String {
        modem.receive(Array(line.utf8) + (cr ? [0x0D] : []), now: clock)
        return take()
    }

    func bytes(_ bytes: [UInt8]) -> String {
        modem.receive(bytes, now: clock)
        return take()
    }

    func take() -> String {
        let text = String(decoding: modem.takeOutput(), as: UTF8.self)
        transcript += text
        return text
    }

    func advance(_ ms: UInt64) -> String {
        clock += ms
        modem.advance(to: clock)
        return take()
    }
}

struct ModemSimulatorTests {
    @Test func basicsEchoAndResultFormats() {
        let host = Host()
        #expect(host.send("AT") == "AT\r\r\nOK\r\n")
        #expect(host.send("ATE0") == "ATE0\r\r\nOK\r\n")
        #expect(host.send("AT+CGMI") == "\r\nHandsetHub\r\n\r\nOK\r\n")
        #expect(host.send("ATV0") == "0\r")
        #expect(host.send("AT+NOPE") == "4\r")
        #expect(host.send("ATV1Q1") == "")
        #expect(host.send("AT+CSQ") == "\r\n+CSQ: 20,0\r\n")
        #expect(host.send("ATZ") == "\r\nOK\r\n")
        #expect(host.send("AT") == "AT\r\r\nOK\r\n")
        #expect(host.send("AT+FOO;+CSQ").hasSuffix("\r\nERROR\r\n"))
    }

    @Test func errorsFollowCMEE() {
        let host = Host()
        host.send("ATE0")
        #expect(host.send("AT+CFUN=7") == "\r\nERROR\r\n")
        host.send("AT+CMEE=1")
        #expect(host.send("AT+CFUN=7") == "\r\n+CME ERROR: 50\r\n")
        host.send("AT+CMEE=2")
        #expect(host.send("AT+CHLD=2") == "\r\n+CME ERROR: operation not allowed\r\n")
    }

    @Test func pinUnlocksAndRegistrationReports() {
        var profile = ModemProfile()
        profile.pin = "1234"
        let host = Host(profile)
        host.send("ATE0")
        host.send("AT+CMEE=1")
        host.send("AT+CREG=2")
        #expect(host.send("AT+CPIN?") == "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n")
        #expect(host.send("AT+COPS?") == "\r\n+CME ERROR: 11\r\n")
        #expect(host.send("AT+CMGF=1") == "\r\n+CMS ERROR: 311\r\n")
        #expect(host.send("AT+CPIN=\"0000\"") == "\r\n+CME ERROR: 16\r\n")
        let unlocked = host.send("AT+CPIN=\"1234\"")
        #expect(unlocked.contains("+CREG: 1,\"1A2B\",\"F00D\",7") || unlocked.contains("+CREG: 1,\"1A2B\""))
        #expect(unlocked.hasSuffix("\r\nOK\r\n"))
        #expect(host.send("AT+COPS?") == "\r\n+COPS: 0,0,\"HandsetHub Mobile\",7\r\n\r\nOK\r\n")
    }

    @Test func pukAfterThreeWrongPins() {
        var profile = ModemProfile()
        profile.pin = "1234"
        let host = Host(profile)
        host.send("ATE0")
        host.send("AT+CMEE=1")
        for _ in 0..<3 { host.send("AT+CPIN=\"9999\"") }
        #expect(host.send("AT+CPIN?").contains("SIM PUK"))
        #expect(host.send("AT+CLCC") == "\r\nOK\r\n")
        #expect(host.send("AT+CIMI") == "\r\n+CME ERROR: 12\r\n")
        #expect(host.send("AT+CPIN=\"12345678\",\"4321\"") == "\r\nOK\r\n")
        #expect(host.send("AT+CPIN?").contains("READY"))
    }

    @Test func registrationURCsInEachMode() {
        let host = Host()
        host.send("ATE0")
        host.modem.setNetworkAvailable(false)
        #expect(host.take() == "")  // mode 0: silent
        host.modem.setNetworkAvailable(true)
        host.send("AT+CREG=1")
        host.send("AT+CEREG=2")
        host.modem.setRegistration(.roaming)
        let urcs = host.take()
        #expect(urcs.contains("\r\n+CREG: 5\r\n"))
        #expect(urcs.contains("\r\n+CEREG: 5,\"1A2B\",\"0001F00D\",7\r\n"))
        #expect(host.send("AT+CREG?") == "\r\n+CREG: 1,5\r\n\r\nOK\r\n")
        host.send("AT+CFUN=4")
        #expect(host.transcript.contains("+CREG: 0"))
        #expect(host.send("AT+CSQ") == "\r\n+CSQ: 99,99\r\n\r\nOK\r\n")
    }

    @Test func copsListAndManualSelection() {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CMEE=1")
        #expect(host.send("AT+COPS=?").hasPrefix("\r\n+COPS: (2,\"HandsetHub Mobile\",\"HubMob\",\"00101\",7),(3,"))
        #expect(host.send("AT+COPS=1,2,\"00102\"") == "\r\n+CME ERROR: 32\r\n")
        #expect(host.send("AT+COPS=1,2,\"99999\"") == "\r\n+CME ERROR: 30\r\n")
        host.send("AT+COPS=3,2")
        #expect(host.send("AT+COPS?") == "\r\n+COPS: 0,2,\"00101\",7\r\n\r\nOK\r\n")
        host.send("AT+COPS=2")
        #expect(host.send("AT+CREG?") == "\r\n+CREG: 0,0\r\n\r\nOK\r\n")
    }

    @Test func outgoingCallGoesDialingAlertingActiveThenRemoteHangup() throws {
        let host = Host()
        host.send("ATE0")
        #expect(host.send("ATD+15551234;") == "\r\nOK\r\n")
        #expect(host.send("AT+CLCC") == "\r\n+CLCC: 1,0,2,0,0,\"+15551234\",145\r\n\r\nOK\r\n")
        _ = host.advance(250)
        #expect(host.send("AT+CLCC").contains("+CLCC: 1,0,3,0,0"))
        _ = try host.modem.remoteAnswer()
        #expect(host.send("AT+CLCC").contains("+CLCC: 1,0,0,0,0"))
        #expect(host.send("AT+VTS=\"12#\"") == "\r\nOK\r\n")
        try host.modem.remoteHangup()
        #expect(host.take() == "\r\nNO CARRIER\r\n")
        #expect(host.send("AT+CLCC") == "\r\nOK\r\n")
        let events = host.modem.takeEvents()
        #expect(events.contains(.dtmf(callID: 1, digits: "12#")))
    }

    @Test func busyAndNoAnswerEndOutgoingCalls() throws {
        var profile = ModemProfile()
        profile.noAnswerTimeoutMs = 5000
        let host = Host(profile)
        host.send("ATE0")
        host.send("ATD123;")
        try host.modem.remoteBusy()
        #expect(host.take() == "\r\nBUSY\r\n")
        host.send("ATD123;")
        #expect(host.advance(300) == "")
        #expect(host.advance(5000) == "\r\nNO ANSWER\r\n")
        #expect(host.send("ATD*99#") == "\r\nNO CARRIER\r\n")
        host.send("AT+CMEE=1")
        #expect(host.send("ATD12x3;") == "\r\n+CME ERROR: 27\r\n")
    }

    @Test func incomingCallRingsWithClipUntilAnswered() throws {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CLIP=1")
        try host.modem.incomingCall(number: "+15559876")
        #expect(host.take() == "\r\nRING\r\n\r\n+CLIP: \"+15559876\",145,,,,0\r\n")
        #expect(host.advance(1000) == "")
        #expect(host.advance(2000).contains("RING"))
        host.send("AT+CRC=1")
        #expect(host.advance(3000).hasPrefix("\r\n+CRING: VOICE\r\n+CLIP:"))
        #expect(host.send("AT+CPAS") == "\r\n+CPAS: 3\r\n\r\nOK\r\n")
        #expect(host.send("ATA") == "\r\nOK\r\n")
        #expect(host.advance(10_000) == "")
        #expect(host.send("AT+CLCC").contains("+CLCC: 1,1,0,0,0,\"+15559876\",145"))
        #expect(host.modem.nextDeadline == nil)
    }

    @Test func restrictedCallerHasNoNumber() throws {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CLIP=1;+CRC=1")
        try host.modem.incomingCall(number: "", presentation: .restricted)
        #expect(host.take() == "\r\n+CRING: VOICE\r\n+CLIP: \"\",128,,,,1\r\n")
    }

    @Test func waitingCallAndChldSequences() throws {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CCWA=1")
        host.send("ATD111;")
        _ = try host.modem.remoteAnswer()
        try host.modem.incomingCall(number: "222")
        #expect(host.take() == "\r\n+CCWA: \"222\",129,1,,0\r\n")
        #expect(host.send("AT+CHLD=2") == "\r\nOK\r\n")
        var list = host.send("AT+CLCC")
        #expect(list.contains("+CLCC: 1,0,1,0,0,\"111\"") && list.contains("+CLCC: 2,1,0,0,0,\"222\""))
        #expect(host.send("AT+CHLD=3") == "\r\nOK\r\n")
        list = host.send("AT+CLCC")
        #expect(list.contains("+CLCC: 1,0,0,0,1") && list.contains("+CLCC: 2,1,0,0,1"))
        #expect(host.send("AT+CHLD=12") == "\r\nOK\r\n")
        #expect(host.send("AT+CLCC").contains("+CLCC: 1,0,0,0,0"))
        #expect(host.send("AT+CHLD=1") == "\r\nOK\r\n")
        #expect(host.send("AT+CLCC") == "\r\nOK\r\n")
    }

    /// The +CHLD modes the sequence above does not reach: 0 rejects a waiting call, then releases the held ones;
    /// 2x splits one call out of a multiparty call; 4 transfers; 2 with nothing to swap is refused.
    @Test func chldRejectSplitTransferAndRefusals() throws {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CMEE=2")
        host.send("AT+CCWA=1")
        host.send("ATD111;")
        _ = try host.modem.remoteAnswer()
        try host.modem.incomingCall(number: "222")
        _ = host.take()
        #expect(host.send("AT+CHLD=0") == "\r\nOK\r\n")
        #expect(!host.send("AT+CLCC").contains("\"222\""))
        try host.modem.incomingCall(number: "333")
        _ = host.take()
        #expect(host.send("AT+CHLD=2") == "\r\nOK\r\n")
        #expect(host.send("AT+CHLD=3") == "\r\nOK\r\n")
        #expect(host.send("AT+CHLD=22") == "\r\nOK\r\n")
        var list = host.send("AT+CLCC")
        #expect(list.contains("+CLCC: 1,0,1,0,1") && list.contains("+CLCC: 2,1,0,0,0"), "\(list)")
        #expect(host.send("AT+CHLD=29") == "\r\n+CME ERROR: not found\r\n")
        #expect(host.send("AT+CHLD=4") == "\r\nOK\r\n")
        list = host.send("AT+CLCC")
        #expect(list == "\r\nOK\r\n", "\(list)")
        #expect(host.send("AT+CHLD=0") == "\r\n+CME ERROR: operation not allowed\r\n")
        #expect(host.send("AT+CHLD=2") == "\r\n+CME ERROR: operation not allowed\r\n")
        #expect(host.send("AT+CHLD=7") == "\r\n+CME ERROR: Incorrect parameters\r\n")
    }

    @Test func textModeSendAndPromptRules() throws {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CMGF=1")
        #expect(host.send("AT+CMGS=\"+15551234\"") == "\r\n> ")
        #expect(host.bytes(Array("Hello there".utf8) + [0x1A]) == "\r\n+CMGS: 0\r\n\r\nOK\r\n")
        #expect(host.modem.sent.last?.text == "Hello there")
        #expect(host.modem.sent.last?.destination == "+15551234")
        host.send("AT+CMGS=\"123\"")
        #expect(host.bytes(Array("never".utf8) + [0x1B]) == "\r\nOK\r\n")
        #expect(host.modem.sent.count == 1)
        #expect(host.bytes([0x1A]) == "\r\nERROR\r\n")
        host.send("AT+CSCS=\"UCS2\"")
        host.send("AT+CMGS=\"002B0031\"")
        #expect(host.bytes(Array("041F04400438".utf8) + [0x1A]).contains("+CMGS: 1"))
        #expect(host.modem.sent.last?.text == "При" && host.modem.sent.last?.destination == "+1")
    }

    @Test func pduModeSendChecksTheLength() throws {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CMGF=0")
        let pdu = "0001000B915121551532F400000CC8F79D9C07E54F61363B04"
        #expect(host.send("AT+CMGS=24") == "\r\n> ")
        #expect(host.bytes(Array(pdu.utf8) + [0x1A]) == "\r\n+CMGS: 0\r\n\r\nOK\r\n")
        #expect(host.modem.sent.last?.text == "Howdy y'all!")
        #expect(host.modem.sent.last?.destination == "+15125551234")
        host.send("AT+CMGS=30")
        #expect(host.bytes(Array(pdu.utf8) + [0x1A]) == "\r\n+CMS ERROR: 304\r\n")
        host.send("AT+CMGS=24")
        #expect(host.bytes(Array("zz".utf8) + [0x1A]) == "\r\n+CMS ERROR: 304\r\n")
        #expect(host.send("AT") == "\r\nOK\r\n")
    }

    @Test func storedDeliveryWithCMTIThenReadListDelete() throws {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CMGF=1;+CNMI=2,1,0,0,0")
        let ts = SMSTimestamp(year: 2024, month: 5, day: 6, hour: 7, minute: 8, second: 9, zoneQuarters: 4)
        try host.modem.deliverSMS(from: "+15550001", text: "first", timestamp: ts)
        #expect(host.take() == "\r\n+CMTI: \"SM\",1\r\n")
        #expect(
            host.send("AT+CMGR=1")
                == "\r\n+CMGR: \"REC UNREAD\",\"+15550001\",,\"24/05/06,07:08:09+04\"\r\nfirst\r\n\r\nOK\r\n")
        #expect(host.send("AT+CMGL=\"REC UNREAD\"") == "\r\nOK\r\n")
        #expect(host.send("AT+CMGL=\"ALL\"").contains("+CMGL: 1,\"REC READ\""))
        host.send("AT+CMGF=0")
        let pduList = host.send("AT+CMGL=4")
        #expect(pduList.contains("+CMGL: 1,1,,"))
        #expect(host.send("AT+CMGD=1") == "\r\nOK\r\n")
        #expect(host.send("AT+CPMS?") == "\r\n+CPMS: \"SM\",0,30,\"SM\",0,30,\"SM\",0,30\r\n\r\nOK\r\n")
        #expect(host.send("AT+CMGR=99") == "\r\n+CMS ERROR: 321\r\n")
        // Negative, or too long to be a number: no slot either (27.005 321, as +CMGD answers).
        for index in ["-1", "-2147483649", "99999999999999999999999"] {
            #expect(host.send("AT+CMGR=\(index)") == "\r\n+CMS ERROR: 321\r\n", "\(index)")
        }
    }

    /// `AT+CSCA` takes an address only (an optional `+` and 1-20 digits): an escaped line end, quote or letters
    /// would be printed back raw by `AT+CSCA?`, a forged `OK` to every opener of a shared modem.
    @Test func theServiceCentreIsAnAddressNothingElse() {
        let host = Host()
        host.send("ATE0")
        #expect(host.send("AT+CSCA=\"+4915550000\"") == "\r\nOK\r\n")
        for hostile in [#""+1\0D\0AOK""#, #""\22\5c""#, #""+abc;DROP""#, #""""#, "\"+\"", #""123456789012345678901""#] {
            #expect(host.send("AT+CSCA=\(hostile)").hasPrefix("\r\n+CMS ERROR: 30"), "\(hostile)")
        }
        #expect(host.send("AT+CSCA?") == "\r\n+CSCA: \"+4915550000\",145\r\n\r\nOK\r\n")
    }

    @Test func directDeliveryOfAMultipartMessageAndCNMA() throws {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CSMS=1;+CMGF=0;+CNMI=2,2,0,0,0")
        let text = String(repeating: "abcdefghij", count: 20)
        let ts = SMSTimestamp(year: 2024, month: 1, day: 1, hour: 0, minute: 0, second: 0)
        let indexes = try host.modem.deliverSMS(from: "+15550002", text: text, timestamp: ts)
        #expect(indexes == [nil, nil])
        let out = host.take()
        let lines = out.split(separator: "\r\n").map(String.init)
        let pdus = lines.enumerated().filter { $0.offset > 0 && lines[$0.offset - 1].hasPrefix("+CMT: ,") }.map(
            \.element)
        #expect(pdus.count == 2)
        var rebuilt = ""
        for hex in pdus {
            let pdu = try SMSPDU.decode(try #require(UCS2.unhex(hex)))
            rebuilt += try SMSDeliver.decode(pdu.tpdu).userData.text ?? ""
        }
        #expect(rebuilt == text)
        #expect(host.send("AT+CNMA") == "\r\nOK\r\n")
        #expect(host.send("AT+CNMA") == "\r\n+CMS ERROR: 340\r\n")
    }

    @Test func urcsWaitWhileTheHostTypesAnSMS() throws {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CMGF=1")
        host.send("AT+CMGS=\"1\"")
        try host.modem.incomingCall(number: "5")
        #expect(host.take() == "")
        let after = host.bytes(Array("x".utf8) + [0x1A])
        #expect(after.hasPrefix("\r\n+CMGS: 0\r\n\r\nOK\r\n\r\nRING\r\n"))
    }

    @Test func networkLossDropsCallsAndRefusesSMS() throws {
        let host = Host()
        host.send("ATE0")
        host.send("ATD1;")
        host.modem.setNetworkAvailable(false)
        #expect(host.take() == "\r\nNO CARRIER\r\n")
        host.send("AT+CMGF=1")
        host.send("AT+CMGS=\"1\"")
        #expect(host.bytes(Array("x".utf8) + [0x1A]) == "\r\n+CMS ERROR: 331\r\n")
        #expect(throws: ModemNetworkError.self) { try host.modem.incomingCall(number: "1") }
        #expect(host.send("ATD1;") == "\r\nNO CARRIER\r\n")
    }

    @Test func garbageAndLongLinesLeaveTheModemUsable() {
        var profile = ModemProfile()
        profile.maxLineBytes = 64
        let host = Host(profile)
        host.send("ATE0")
        #expect(host.bytes([0x00, 0xFF, 0x80, 0x41, 0x0D]) == "\r\nERROR\r\n")
        #expect(host.send(String(repeating: "A", count: 500)) == "\r\nERROR\r\n")
        #expect(host.bytes([0x1A]) == "\r\nERROR\r\n")
        #expect(host.send("AT") == "\r\nOK\r\n")
    }
}

@Suite struct ModemOwnerLossTests {
    /// When the owning partition dies, its calls end for the network side.
    @Test func ownerLossEndsEveryCall() throws {
        let simulator = ModemSimulator(profile: ModemProfile(), now: 0)
        _ = try simulator.incomingCall(number: "+15550001111")
        simulator.receive(Array("ATA\r".utf8), now: 10)
        #expect(simulator.currentCalls.first?.state == .active)
        _ = simulator.takeEvents()
        simulator.ownerLost()
        #expect(simulator.currentCalls.isEmpty)
        let ended = simulator.takeEvents().compactMap { event -> String? in
            if case .call(_, let reason) = event { return reason }
            return nil
        }
        #expect(ended == ["owner_lost"])
    }
}
