import JSON
import Modem
import Testing

@testable import ModemServer

/// The settings object of the link (Protocols/modem.md §6.2) carries every field both ways.
struct ModemHostSettingsLinkTests {
    @Test func everyFieldSurvivesTheLink() throws {
        var settings = ModemHostSettings()
        settings.echo = false
        settings.verbose = false
        settings.quiet = true
        settings.cmee = 2
        settings.crc = 1
        settings.clip = 1
        settings.ccwa = 1
        settings.colp = 1
        settings.cvhu = 2
        settings.cregMode = 2
        settings.cgregMode = 1
        settings.ceregMode = 2
        settings.reportedStat = 5
        settings.cmgf = 1
        settings.csms = 1
        settings.cscs = "UCS2"
        settings.serviceCentre = "+4912345"
        settings.cnmi = [2, 1, 0, 1, 0]
        settings.csmp = [49, 11, 0, 8]
        settings.csdh = 1
        settings.cfun = 4
        settings.copsMode = 1
        settings.copsFormat = 2
        settings.copsOperator = "00101"
        settings.gprsAttached = false
        settings.pdpContexts = [1: "internet", 8: "ims"]
        settings.sRegisters = [0: 2, 12: 50]
        settings.simUnlocked = true
        settings.changedPIN = "4321"
        settings.nextReference = 200
        settings.nextConcatReference = 7
        let wire = try JSON.parse(Array(settings.json.serialized().utf8))
        #expect(ModemHostSettings(json: try #require(wire.objectValue)) == settings)
    }

    /// A report is read over the last one (§6.2: a restarted simulator must not quietly undo the host's setup): a
    /// field left out or of the wrong type keeps its value, null clears an optional one, and a full report
    /// (what a simulator sends, every optional field written, null when unset) replaces everything.
    @Test func aPartialOrBrokenReportKeepsWhatItDoesNotSay() throws {
        var last = ModemHostSettings()
        last.echo = false
        last.cmee = 2
        last.clip = 1
        last.cmgf = 1
        last.serviceCentre = "+4912345"
        last.pdpContexts = [1: "internet"]
        last.nextReference = 200
        #expect(ModemHostSettings(json: [:], over: last) == last)
        #expect(ModemHostSettings(json: ["zzz": 1, "echo": "yes", "cmee": "2"], over: last) == last)
        var clipOff = last
        clipOff.clip = 0
        #expect(ModemHostSettings(json: ["clip": 0], over: last) == clipOff)
        var noCentre = last
        noCentre.serviceCentre = nil
        #expect(ModemHostSettings(json: ["csca": .null], over: last) == noCentre)
        // Out of range: kept, so the next simulator is not handed values it would replace by its defaults.
        let broken: JSONObject = [
            "cmee": 7, "cmgf": 5, "cnmi": [9, 9, 9, 9, 9], "cscs": "EBCDIC", "creg": 42, "s": ["7": 999],
            "csca": "+1\r\nOK", "cfun": 3, "nextReference": 300,
        ]
        var withS7 = last
        withS7.sRegisters = [7: 77]
        #expect(ModemHostSettings(json: broken, over: withS7) == withS7)
        // A full report of the defaults is the defaults, whatever came before.
        let wire = try JSON.parse(Array(ModemHostSettings().json.serialized().utf8))
        #expect(ModemHostSettings(json: try #require(wire.objectValue), over: last) == ModemHostSettings())
    }
}
