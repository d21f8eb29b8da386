import ATWire
import Modem
import Testing

/// The host's view of a modem carried to a new one (Protocols/modem.md §6.2) and `AT+CVHU` (§4).
struct HostSettingsTests {
    /// A host stack's init sequence, then an SMS sent (references 0 and 1).
    static func configuredHost() -> Host {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CMEE=2;+CMGF=1;+CNMI=2,1,0,0,0;+CLIP=1;+CRC=1;+CSCS=\"GSM\";+CVHU=1;+CREG=1")
        #expect(host.send("AT+CMGS=\"+15550001\"") == "\r\n> ")
        #expect(host.bytes(Array("one".utf8) + [0x1A]).contains("+CMGS: 0"))
        #expect(host.send("AT+CMGS=\"+15550001\"") == "\r\n> ")
        #expect(host.bytes(Array("two".utf8) + [0x1A]).contains("+CMGS: 1"))
        return host
    }

    @Test func aRebuiltModemBehavesAsTheHostLeftIt() throws {
        let old = HostSettingsTests.configuredHost()
        let fresh = Host()
        fresh.modem.restore(old.modem.hostSettings)
        #expect(fresh.take() == "", "restoring writes nothing when registration is unchanged")
        #expect(fresh.modem.hostSettings == old.modem.hostSettings)
        // Echo stays off, errors stay verbose.
        #expect(fresh.send("AT+CFUN=7") == "\r\n+CME ERROR: Incorrect parameters\r\n")
        // SMS notifications stay on; references continue.
        _ = try fresh.modem.deliverSMS(
            from: "+15559999", text: "hi",
            timestamp: SMSTimestamp(year: 2024, month: 1, day: 1, hour: 0, minute: 0, second: 0))
        #expect(fresh.take().contains("+CMTI: \"SM\",1"))
        #expect(fresh.send("AT+CMGS=\"+15550001\"") == "\r\n> ")
        #expect(fresh.bytes(Array("three".utf8) + [0x1A]).contains("+CMGS: 2"))
        // Ring format and caller id.
        try fresh.modem.incomingCall(number: "+15552222")
        let ring = fresh.take()
        #expect(ring.contains("+CRING: VOICE") && ring.contains("+CLIP: \"+15552222\",145"), "\(ring)")
        // +CVHU=1: ATH leaves the call up.
        #expect(fresh.send("ATA") == "\r\nOK\r\n")
        #expect(fresh.send("ATH") == "\r\nOK\r\n")
        #expect(fresh.send("AT+CLCC").contains("+CLCC: 1,1,0"))
        #expect(fresh.send("AT+CSCS?").contains("+CSCS: \"GSM\""))
    }

    @Test func aRegistrationChangeTheHostMissedIsReported() {
        let old = Host()
        old.send("ATE0;+CREG=1")
        old.modem.setRegistration(.roaming)
        #expect(old.take().contains("+CREG: 5"))
        let fresh = Host()
        fresh.modem.restore(old.modem.hostSettings)
        #expect(fresh.take() == "\r\n+CREG: 1\r\n")
        #expect(fresh.modem.takeEvents().allSatisfy { if case .registration = $0 { false } else { true } })
    }

    @Test func outOfRangeSettingsAreIgnoredOneByOne() {
        var settings = ModemHostSettings()
        settings.echo = false
        settings.cmee = 7
        settings.cnmi = [9, 9, 9, 9, 9]
        settings.cscs = "EBCDIC"
        settings.nextReference = 300
        settings.sRegisters = [99: 1, 0: 256, 3: 10]
        settings.cmgf = 1
        let host = Host()
        host.modem.restore(settings)
        let now = host.modem.hostSettings
        #expect(now.echo == false && now.cmgf == 1)
        #expect(now.cmee == 0 && now.cnmi == [0, 0, 0, 0, 0] && now.cscs == "IRA" && now.nextReference == 0)
        #expect(now.sRegisters[3] == 10 && now.sRegisters[0] == 0 && now.sRegisters[99] == nil)
    }

    @Test func unlockedSIMStaysUnlocked() {
        var profile = ModemProfile()
        profile.pin = "1234"
        let old = Host(profile)
        old.send("ATE0")
        #expect(old.send("AT+CPIN=\"1234\"") == "\r\nOK\r\n")
        let fresh = Host(profile)
        fresh.modem.restore(old.modem.hostSettings)
        #expect(fresh.send("AT+CPIN?").contains("+CPIN: READY"))
        // A host that never entered the PIN does not get it entered for it.
        let locked = Host(profile)
        locked.modem.restore(Host(profile).modem.hostSettings)
        #expect(locked.send("AT+CPIN?").contains("+CPIN: SIM PIN"))
    }

    /// 27.007 §6.20: `AT+CVHU=0` (sent by common host stacks at init) was answered `ERROR`.
    @Test func voiceHangupControl() throws {
        let host = Host()
        host.send("ATE0")
        #expect(host.send("AT+CVHU=0") == "\r\nOK\r\n")
        #expect(host.send("AT+CVHU?") == "\r\n+CVHU: 0\r\n\r\nOK\r\n")
        #expect(host.send("AT+CVHU=?") == "\r\n+CVHU: (0-2)\r\n\r\nOK\r\n")
        #expect(host.send("AT+CVHU=3") == "\r\nERROR\r\n")
        #expect(host.send("AT+CLAC").contains("AT+CVHU"))
        host.send("AT+CVHU=1")
        try host.modem.incomingCall(number: "+15552222")
        _ = host.take()
        host.send("ATA")
        #expect(host.send("ATH") == "\r\nOK\r\n")
        #expect(host.modem.currentCalls.count == 1, "ATH is ignored with +CVHU=1")
        // AT+CHUP is not governed by +CVHU.
        host.send("AT+CHUP")
        #expect(host.modem.currentCalls.isEmpty)
        host.send("AT+CVHU=2")
        try host.modem.incomingCall(number: "+15552222")
        _ = host.take()
        host.send("ATA")
        host.send("ATH")
        #expect(host.modem.currentCalls.isEmpty, "ATH disconnects with +CVHU=2")
        host.send("AT+CVHU=1")
        host.send("ATZ")
        host.send("ATE0")
        #expect(host.send("AT+CVHU?").contains("+CVHU: 0"))
    }
}

/// Unsolicited results held while the host types an SMS body (`Protocols/modem.md` §2): a host that sits in the
/// prompt while messages keep coming held every one of them, without bound. At most 64 are held, the newest.
struct HeldUnsolicitedTests {
    @Test func aHostSittingInThePromptHoldsOnlyTheNewestResults() throws {
        let host = Host()
        host.send("ATE0")
        host.send("AT+CMGF=1;+CNMI=2,2,0,0,0")  // delivered messages go straight to the host as +CMT
        #expect(host.send("AT+CMGS=\"+15550001\"") == "\r\n> ")
        let stamp = SMSTimestamp(year: 2026, month: 12, day: 6, hour: 0, minute: 0, second: 0)
        for index in 0..<100 {
            _ = try host.modem.deliverSMS(from: "+15559999", text: "message \(index)", timestamp: stamp)
        }
        #expect(host.take() == "", "nothing is written while the host types")
        #expect(host.modem.heldUnsolicitedDropped == 36)
        let after = host.bytes(Array("body".utf8) + [0x1A])
        let delivered = after.components(separatedBy: "\r\n").filter { $0.hasPrefix("message ") }
        #expect(delivered == (36..<100).map { "message \($0)" }, "the newest 64, in order")
        #expect(after.contains("+CMGS: "))
    }
}
