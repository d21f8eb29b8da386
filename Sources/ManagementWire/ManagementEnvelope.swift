/// A management command as it travels (`Protocols/management.md` §2): the signed body's exact bytes and the
/// signatures over them. The body is kept as received, so what is verified is what was signed; nothing is
/// re-encoded before verification.
package struct ManagementEnvelope: Equatable, Sendable {
    /// The body's bytes, exactly as signed (§2.2).
    package private(set) var bodyBytes: [UInt8]
    /// The body, decoded from `bodyBytes`.
    package private(set) var body: ManagementCommand
    /// One or more signatures over the signing input (§2.4), each naming its key.
    package var signatures: [ManagementSignature]

    package init(body: ManagementCommand, signatures: [ManagementSignature]) {
        self.bodyBytes = ManagementCodec.encodeBody(body)
        self.body = body
        self.signatures = signatures
    }

    init(bodyBytes: [UInt8], body: ManagementCommand, signatures: [ManagementSignature]) {
        self.bodyBytes = bodyBytes
        self.body = body
        self.signatures = signatures
    }
}

/// The signed part of a command (`Protocols/management.md` §2.2).
package struct ManagementCommand: Equatable, Sendable {
    /// What to do: `upgrade`, `rollback`, `rotateKeys`… (§3).
    package var operation: String
    /// The partition acted on; for `rotateKeys`, the authority whose keys change.
    package var target: String
    /// The authority that signed the command.
    package var authority: String
    /// The authority's command counter: each accepted command's counter is above every earlier one (§4).
    package var counter: UInt64
    /// The command is refused at or after this time, Unix milliseconds.
    package var expiresAtMs: UInt64
    /// The SHA-256 of the software the command carries, when it carries software.
    package var softwareSHA256: [UInt8]?
    /// Operation parameters, names in strictly ascending byte order.
    package var parameters: [(key: String, value: String)]

    package init(
        operation: String, target: String, authority: String, counter: UInt64, expiresAtMs: UInt64,
        softwareSHA256: [UInt8]? = nil, parameters: [(key: String, value: String)] = []
    ) {
        self.operation = operation
        self.target = target
        self.authority = authority
        self.counter = counter
        self.expiresAtMs = expiresAtMs
        self.softwareSHA256 = softwareSHA256
        self.parameters = parameters
    }

    /// The value of parameter `key`, if present.
    package func parameter(_ key: String) -> String? { parameters.first { $0.key == key }?.value }

    package static func == (a: ManagementCommand, b: ManagementCommand) -> Bool {
        a.operation == b.operation && a.target == b.target && a.authority == b.authority && a.counter == b.counter
            && a.expiresAtMs == b.expiresAtMs && a.softwareSHA256 == b.softwareSHA256
            && a.parameters.map(\.key) == b.parameters.map(\.key)
            && a.parameters.map(\.value) == b.parameters.map(\.value)
    }
}

/// One signature: the key's id (`Protocols/management.md` §2.4) and the 64-byte Ed25519 signature.
package struct ManagementSignature: Equatable, Sendable {
    /// The first 8 bytes of the SHA-256 of the 32-byte public key.
    package var keyID: [UInt8]
    /// The Ed25519 signature of the signing input.
    package var signature: [UInt8]

    package init(keyID: [UInt8], signature: [UInt8]) {
        self.keyID = keyID
        self.signature = signature
    }
}

/// Why bytes are not an envelope; the hub answers `bad_envelope` with `kind` as its detail
/// (`Protocols/management.md` §2.5).
package struct ManagementWireError: Error, Equatable, Sendable {
    /// One of the kinds listed in §2.5 (`truncated`, `bad_magic`, …).
    package var kind: String
    /// Which field, for people.
    package var detail: String

    package init(_ kind: String, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }
}
