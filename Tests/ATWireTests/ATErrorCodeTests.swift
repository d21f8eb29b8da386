import ATWire
import Testing

/// The typed `+CME ERROR` / `+CMS ERROR` codes keep the numbers and the verbose texts the hub answered with
/// when they were integer literals and a lookup table (3GPP TS 27.007 §9.2, TS 27.005 §3.2.5); hosts parse
/// both forms, so neither may change.
@Suite struct ATErrorCodeTests {
    static let cmeTable: [Int: String] = [
        0: "phone failure", 3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
        11: "SIM PIN required", 12: "SIM PUK required", 13: "SIM failure", 16: "incorrect password",
        20: "memory full", 21: "invalid index", 22: "not found", 24: "text string too long",
        25: "invalid characters in text string", 26: "dial string too long", 27: "invalid characters in dial string",
        30: "no network service", 31: "network timeout", 32: "network not allowed - emergency calls only",
        50: "Incorrect parameters", 100: "unknown",
    ]
    static let cmsTable: [Int: String] = [
        300: "ME failure", 302: "operation not allowed", 303: "operation not supported",
        304: "invalid PDU mode parameter", 305: "invalid text mode parameter", 310: "SIM not inserted",
        311: "SIM PIN required", 316: "SIM PUK required", 320: "memory failure", 321: "invalid memory index",
        322: "memory full", 330: "SMSC address unknown", 331: "no network service", 332: "network timeout",
        340: "no +CNMA acknowledgement expected", 500: "unknown error",
    ]

    @Test func cmeCodesKeepTheirNumbersAndTexts() {
        #expect(Dictionary(uniqueKeysWithValues: CMEError.allCases.map { ($0.rawValue, $0.text) }) == Self.cmeTable)
    }

    @Test func cmsCodesKeepTheirNumbersAndTexts() {
        #expect(Dictionary(uniqueKeysWithValues: CMSError.allCases.map { ($0.rawValue, $0.text) }) == Self.cmsTable)
    }

    @Test func invalidParameterFollowsTheMessageFormat() {
        #expect(CMSError.invalidParameter(cmgf: 0) == .invalidPDUModeParameter)
        #expect(CMSError.invalidParameter(cmgf: 1) == .invalidTextModeParameter)
    }
}
