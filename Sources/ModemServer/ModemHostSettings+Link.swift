import JSON
import Modem

/// The host-set state of a modem as the link carries it (Protocols/modem.md §6.2): the simulator reports
/// it in `settings` events, the hub sends the last report back in its hello to a new simulator.
extension ModemHostSettings {
    package var json: JSON {
        var object: JSONObject = [
            "echo": .bool(echo), "verbose": .bool(verbose), "quiet": .bool(quiet), "cmee": .int(Int64(cmee)),
            "crc": .int(Int64(crc)), "clip": .int(Int64(clip)), "ccwa": .int(Int64(ccwa)),
            "colp": .int(Int64(colp)), "cvhu": .int(Int64(cvhu)), "creg": .int(Int64(cregMode)),
            "cgreg": .int(Int64(cgregMode)), "cereg": .int(Int64(ceregMode)), "cmgf": .int(Int64(cmgf)),
            "csms": .int(Int64(csms)), "cscs": .string(cscs), "cnmi": .array(cnmi.map { .int(Int64($0)) }),
            "csmp": .array(csmp.map { .int(Int64($0)) }), "csdh": .int(Int64(csdh)), "cfun": .int(Int64(cfun)),
            "copsMode": .int(Int64(copsMode)), "copsFormat": .int(Int64(copsFormat)),
            "cgatt": .bool(gprsAttached), "simUnlocked": .bool(simUnlocked),
            "nextReference": .int(Int64(nextReference)), "nextConcatReference": .int(Int64(nextConcatReference)),
        ]
        if let reportedStat { object["reportedStat"] = .int(Int64(reportedStat)) }
        if let serviceCentre { object["csca"] = .string(serviceCentre) }
        if let copsOperator { object["copsOperator"] = .string(copsOperator) }
        if let changedPIN { object["pin"] = .string(changedPIN) }
        var contexts: JSONObject = [:]
        for (cid, apn) in pdpContexts { contexts["\(cid)"] = .string(apn) }
        object["cgdcont"] = .object(contexts)
        var registers: JSONObject = [:]
        for (number, value) in sRegisters { registers["\(number)"] = .int(Int64(value)) }
        object["s"] = .object(registers)
        return .object(object)
    }

    /// Reads what a peer sent; a field of the wrong type keeps its default, ranges are checked by
    /// `ModemSimulator.restore`. Keys of the maps are looked up among the few valid ones, never converted.
    package init(json object: JSONObject) {
        self.init()
        func int(_ key: String) -> Int? { object[key]?.intValue }
        // Strings are kept short so the next hello stays far below the frame limit whatever a peer sent.
        func string(_ key: String, max: Int = 32) -> String? {
            guard let value = object[key]?.stringValue, value.utf8.count <= max else { return nil }
            return value
        }
        echo = object["echo"]?.boolValue ?? echo
        verbose = object["verbose"]?.boolValue ?? verbose
        quiet = object["quiet"]?.boolValue ?? quiet
        cmee = int("cmee") ?? cmee
        crc = int("crc") ?? crc
        clip = int("clip") ?? clip
        ccwa = int("ccwa") ?? ccwa
        colp = int("colp") ?? colp
        cvhu = int("cvhu") ?? cvhu
        cregMode = int("creg") ?? cregMode
        cgregMode = int("cgreg") ?? cgregMode
        ceregMode = int("cereg") ?? ceregMode
        reportedStat = int("reportedStat")
        cmgf = int("cmgf") ?? cmgf
        csms = int("csms") ?? csms
        cscs = string("cscs") ?? cscs
        serviceCentre = string("csca")
        if let values = object["cnmi"]?.arrayValue, values.count == 5 {
            let ints = values.compactMap(\.intValue)
            if ints.count == 5 { cnmi = ints }
        }
        if let values = object["csmp"]?.arrayValue, values.count == 4 {
            let ints = values.compactMap(\.intValue)
            if ints.count == 4 { csmp = ints }
        }
        csdh = int("csdh") ?? csdh
        cfun = int("cfun") ?? cfun
        copsMode = int("copsMode") ?? copsMode
        copsFormat = int("copsFormat") ?? copsFormat
        copsOperator = string("copsOperator")
        gprsAttached = object["cgatt"]?.boolValue ?? gprsAttached
        simUnlocked = object["simUnlocked"]?.boolValue ?? false
        changedPIN = string("pin")
        nextReference = int("nextReference") ?? nextReference
        nextConcatReference = int("nextConcatReference") ?? nextConcatReference
        if let contexts = object["cgdcont"]?.objectValue {
            for cid in 1...8 {
                if let apn = contexts["\(cid)"]?.stringValue, apn.utf8.count <= 256 { pdpContexts[cid] = apn }
            }
        }
        if let registers = object["s"]?.objectValue {
            for number in 0...12 { if let value = registers["\(number)"]?.intValue { sRegisters[number] = value } }
        }
    }
}
