import ATWire
import Modem
import Testing

/// The network side's setters (what the hub's `modem.*` control methods call) reach what the host reads.
struct ModemNetworkSideTests {
    @Test func signalSetByTheNetworkIsWhatCSQReports() throws {
        let host = Host()
        host.send("ATE0")
        try host.modem.setSignal(rssi: 7, ber: 3)
        #expect(host.send("AT+CSQ") == "\r\n+CSQ: 7,3\r\n\r\nOK\r\n")
        #expect(host.modem.registrationSnapshot.rssi == 7 && host.modem.registrationSnapshot.ber == 3)
        try host.modem.setSignal(rssi: 99, ber: 99)
        #expect(host.send("AT+CSQ") == "\r\n+CSQ: 99,99\r\n\r\nOK\r\n")
    }

    @Test func outOfRangeSignalIsRefusedAndLeavesTheOldOne() throws {
        let host = Host()
        host.send("ATE0")
        try host.modem.setSignal(rssi: 12, ber: 1)
        for (rssi, ber) in [(32, 0), (-1, 0), (98, 0), (5, 8), (5, -1), (Int.max, Int.min)] {
            #expect(throws: ModemNetworkError.self) { try host.modem.setSignal(rssi: rssi, ber: ber) }
        }
        #expect(host.send("AT+CSQ") == "\r\n+CSQ: 12,1\r\n\r\nOK\r\n")
    }
}
