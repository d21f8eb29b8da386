// libFuzzer entry for the modem's codecs (Protocols/modem.md): the AT line assembler and command
// parser, the SMS PDU decoders, and the whole simulator fed the same bytes. Built by run-at-fuzz.sh
// together with the ATWire and Modem sources as one module, so no `import` of them is needed here.
//
// Properties checked beyond "does not crash": the assembler gives the same events under any split of
// the input; a PDU that decodes re-encodes to something that decodes to the same value; the simulator
// answers every command line it is given and its output stays bounded; restoring host settings from a
// peer is idempotent.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzATWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // SAFETY: libFuzzer guarantees `data` points at `size` readable bytes for the duration of the call.
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())

    // 1. Line assembler: whole input vs. a split derived from the input; also in prompt mode.
    for prompt in [false, true] {
        var whole = ATLineAssembler(maxLineBytes: 64)
        if prompt { whole.enterPrompt() }
        var echo: [UInt8] = []
        let expected = whole.feed(input, echoOut: &echo)
        var split = ATLineAssembler(maxLineBytes: 64)
        if prompt { split.enterPrompt() }
        let cut = input.isEmpty ? 0 : Int(selector) % (input.count + 1)
        var echo2: [UInt8] = []
        let events = split.feed(input[..<cut], echoOut: &echo2) + split.feed(input[cut...], echoOut: &echo2)
        if events != expected || echo != echo2 {
            fatalError("chunking changed the result at \(cut): \(expected) vs \(events)")
        }
        for case .line(let line) in expected {
            _ = try? ATCommandParser.parse(line)
        }
    }

    // 2. PDU decoders on the raw bytes (SMSC + TPDU) and on the TPDU alone.
    if let pdu = try? SMSPDU.decode(input) {
        if let again = try? pdu.encoded(), (try? SMSPDU.decode(again)) != pdu {
            fatalError("SMSPDU does not survive re-encoding: \(input)")
        }
        _ = try? SMSPDU.decode(input, tpduLength: Int(selector))
    }
    if let deliver = try? SMSDeliver.decode(input), let encoded = try? deliver.encoded() {
        guard let again = try? SMSDeliver.decode(encoded), again == deliver else {
            fatalError("SMS-DELIVER does not survive re-encoding: \(input)")
        }
    }
    if let submit = try? SMSSubmit.decode(input), let encoded = try? submit.encoded() {
        guard let again = try? SMSSubmit.decode(encoded), again == submit else {
            fatalError("SMS-SUBMIT does not survive re-encoding: \(input)")
        }
    }
    _ = UCS2.unhex(String(decoding: input, as: UTF8.self))

    // 3. The simulator: the bytes as a host would type them, in PDU or text mode, with time passing.
    var profile = ModemProfile()
    profile.maxLineBytes = 128
    let modem = ModemSimulator(profile: profile, now: 0)
    modem.receive(Array((selector & 1 == 0 ? "AT+CMGF=0\r" : "AT+CMGF=1;+CSCS=\"UCS2\"\r").utf8), now: 0)
    _ = modem.takeOutput()
    var now: UInt64 = 0
    var start = 0
    while start < input.count {
        let end = min(input.count, start + 1 + Int(input[start]) % 32)
        modem.receive(input[start..<end], now: now)
        now += UInt64(input[start]) * 50
        modem.advance(to: now)
        let output = modem.takeOutput()
        if output.count > 64 * 1024 { fatalError("unbounded output: \(output.count) bytes") }
        _ = modem.takeEvents()
        start = end
    }
    _ = try? modem.deliverSMS(tpdus: [input])
    _ = modem.takeOutput()

    // 4. Host settings carried to a new modem (Protocols/modem.md §6.2) come from a peer: whatever values
    // arrive, restoring keeps the modem consistent, so a modem rebuilt from a rebuilt modem's settings has
    // exactly the same settings (nothing out of range survives the first restore).
    if input.count >= 8 {
        func value(_ index: Int) -> Int { Int(input[index % input.count]) - 8 }
        var settings = ModemHostSettings()
        settings.echo = input[0] & 1 == 0
        settings.verbose = input[0] & 2 == 0
        settings.quiet = input[0] & 4 != 0
        settings.cmee = value(1)
        settings.crc = value(2)
        settings.clip = value(3)
        settings.ccwa = value(4)
        settings.colp = value(5)
        settings.cvhu = value(6)
        settings.cregMode = value(7)
        settings.cgregMode = value(8)
        settings.ceregMode = value(9)
        settings.reportedStat = value(10)
        settings.cmgf = value(11)
        settings.csms = value(12)
        settings.csdh = value(13)
        settings.cfun = value(14)
        settings.copsMode = value(15)
        settings.copsFormat = value(16)
        settings.copsOperator = input[3] & 1 == 0 ? "00102" : "00101"
        settings.cnmi = (17..<22).map(value)
        settings.csmp = (22..<26).map { Int(input[$0 % input.count]) }
        settings.nextReference = value(26) * 40
        settings.nextConcatReference = value(27) * 300
        settings.simUnlocked = input[1] & 1 == 1
        settings.sRegisters = [value(28): value(29) * 2]
        settings.cscs = ["IRA", "GSM", "UCS2", "EBCDIC"][Int(input[2]) % 4]
        var locked = profile
        locked.pin = input[4] & 1 == 0 ? nil : "1234"
        let first = ModemSimulator(profile: locked, now: 0)
        first.restore(settings)
        let second = ModemSimulator(profile: locked, now: 0)
        second.restore(first.hostSettings)
        if second.hostSettings != first.hostSettings {
            fatalError("restoring is not idempotent: \(first.hostSettings) vs \(second.hostSettings)")
        }
        first.receive(Array("AT+CMGF?;+CNMI?;+CSMP?;+CREG?\r".utf8), now: 0)
        _ = first.takeOutput()
    }
    return 0
}
