/// The `+CME ERROR` (3GPP TS 27.007 §9.2) and `+CMS ERROR` (TS 27.005 §3.2.5) codes the simulator uses.
public enum ModemErrors {
    static let cme: [Int: String] = [
        0: "phone failure", 3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
        11: "SIM PIN required", 12: "SIM PUK required", 13: "SIM failure", 16: "incorrect password",
        20: "memory full", 21: "invalid index", 22: "not found", 24: "text string too long",
        25: "invalid characters in text string", 26: "dial string too long", 27: "invalid characters in dial string",
        30: "no network service", 31: "network timeout", 32: "network not allowed - emergency calls only",
        50: "Incorrect parameters", 100: "unknown",
    ]
    static let cms: [Int: String] = [
        300: "ME failure", 302: "operation not allowed", 303: "operation not supported",
        304: "invalid PDU mode parameter", 305: "invalid text mode parameter", 310: "SIM not inserted",
        311: "SIM PIN required", 316: "SIM PUK required", 320: "memory failure", 321: "invalid memory index",
        322: "memory full", 330: "SMSC address unknown", 331: "no network service", 332: "network timeout",
        340: "no +CNMA acknowledgement expected", 500: "unknown error",
    ]

    public static func cmeText(_ code: Int) -> String { cme[code] ?? "unknown" }
    public static func cmsText(_ code: Int) -> String { cms[code] ?? "unknown error" }
}
