/// The key service's messages (`Protocols/keyservice.md` §3): requests to the `secure` partition's key service and
/// its responses, carried as guest-protocol message payloads. Pure values; `KeyServiceCodec` turns them into
/// bytes and back.
public enum KeyServiceOp: UInt8, Sendable, CaseIterable {
    case publicKey = 1
    case sign = 2
    case verify = 3
    case put = 4
    case get = 5
    case stats = 6
}

/// A response's status (§3.2).
public enum KeyServiceStatus: UInt8, Sendable, CaseIterable {
    case ok = 0
    case malformed = 1
    case badVersion = 2
    case unknownOp = 3
    case notPermitted = 4
    case notFound = 5
    case tooLarge = 6
    case storageFull = 7
}

/// One request (§3.1).
public enum KeyServiceRequest: Sendable, Equatable {
    case publicKey
    /// Ed25519 over exactly `data` (at most `KeyServiceLimits.maxData` bytes).
    case sign(data: [UInt8])
    /// Whether `signature` (64 bytes) is the service key's over `data`.
    case verify(signature: [UInt8], data: [UInt8])
    /// Stores `value` (at most `maxValue` bytes) under `name` for this requester.
    case put(name: String, value: [UInt8])
    case get(name: String)
    case stats

    public var op: KeyServiceOp {
        switch self {
        case .publicKey: .publicKey
        case .sign: .sign
        case .verify: .verify
        case .put: .put
        case .get: .get
        case .stats: .stats
        }
    }
}

/// The service's counters (§3.2, `stats`).
public struct KeyServiceStats: Sendable, Equatable {
    public var requests: UInt64
    public var signatures: UInt64
    public var refused: UInt64
    public var malformed: UInt64
    /// Answers dropped because `KeyServiceLimits.maxWaitingAnswers` were already waiting on their link (§1); nil
    /// when the service answered the four-counter form, which does not count them.
    public var dropped: UInt64?

    public init(requests: UInt64, signatures: UInt64, refused: UInt64, malformed: UInt64, dropped: UInt64? = nil) {
        self.requests = requests
        self.signatures = signatures
        self.refused = refused
        self.malformed = malformed
        self.dropped = dropped
    }
}

/// What an `ok` response carries, by op (§3.2).
public enum KeyServiceResult: Sendable, Equatable {
    case publicKey([UInt8])
    case signature([UInt8])
    case valid(Bool)
    case stored
    case value([UInt8])
    case stats(KeyServiceStats)
}

/// One response: the request's op (raw: 0 when the request had none), its status, and either the result (`ok`)
/// or a reason for logs.
public struct KeyServiceResponse: Sendable, Equatable {
    public var op: UInt8
    public var status: KeyServiceStatus
    public var result: KeyServiceResult?
    public var reason: String

    public init(op: UInt8, status: KeyServiceStatus, result: KeyServiceResult? = nil, reason: String = "") {
        self.op = op
        self.status = status
        self.result = result
        self.reason = reason
    }
}

/// The spec's limits (§2).
public enum KeyServiceLimits {
    public static let version: UInt8 = 1
    public static let maxData = 16384
    public static let maxValue = 1024
    public static let maxName = 64
    public static let maxReason = 256
    public static let signatureBytes = 64
    public static let publicKeyBytes = 32
    /// Answers the service keeps waiting on one link before it drops further ones (§1).
    public static let maxWaitingAnswers = 1024
    /// A `stats` result is 4...16 counters (§3.2): readers take those they know and ignore the rest.
    public static let statsCounters = 4...16

    /// A storage name: 1–64 bytes of ASCII letters, digits, `.`, `_`, `-`.
    public static func isValidName(_ bytes: some Collection<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= maxName else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }
}

/// Why a request or response was refused (§3.3): the status a service answers with (for a request), and the op
/// when it could be read.
public struct KeyServiceDecodeError: Error, Sendable, Equatable {
    public var status: KeyServiceStatus
    public var op: UInt8
    public var reason: String

    public init(_ status: KeyServiceStatus, op: UInt8 = 0, _ reason: String) {
        self.status = status
        self.op = op
        self.reason = reason
    }
}
