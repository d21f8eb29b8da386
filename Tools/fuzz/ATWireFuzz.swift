// libFuzzer entry for the modem's codecs (Protocols/modem.md): the AT line assembler and command
// parser, the SMS PDU decoders, and the whole simulator fed the same bytes. Built by run-at-fuzz.sh
// together with the ATWire and Modem sources as one module, so no `import` of them is needed here.
//
// Properties checked beyond "does not crash": the assembler gives the same events under any split of
// the input; a PDU that decodes re-encodes to something that decodes to the same value; the simulator
// answers every command line it is given and its output stays bounded.

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
    return 0
}
