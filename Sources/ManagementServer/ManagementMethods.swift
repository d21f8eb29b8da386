import ControlWire
import DeviceKit
import JSON
import Management
import ManagementWire

/// The `mgmt.*` control methods (`Protocols/control.md`, management): the table the device registers, then
/// one named handler per method. Parameters are read through `ControlParams`, every number range-checked.
extension ManagementDevice {
    /// Every method of the family, registered by `start(host:)`.
    var methods: [ControlMethod] {
        [
            ControlMethod("mgmt.submit", summary: "Verify a signed management command and run it") {
                [unowned self] call throws(ControlError) in try self.mgmtSubmit(call)
            },
            ControlMethod("mgmt.status", summary: "Management authorities, their counters and keys, the audit tail") {
                [unowned self] call throws(ControlError) in try self.mgmtStatus(call)
            },
            ControlMethod("mgmt.audit", summary: "A page of the management audit log") {
                [unowned self] call throws(ControlError) in try self.mgmtAudit(call)
            },
            ControlMethod("mgmt.wait", summary: "Answer with the next audited command matching a result") {
                [unowned self] call throws(ControlError) in try self.mgmtWait(call)
            },
        ]
    }

    /// What one Ed25519 signature check is charged as, in the control budget's bytes (`Protocols/control.md`
    /// §2.7). A full check takes some 50-100 µs on the loop, so a pass's budget (`controlAnswerBytesPerPass`,
    /// 256 KiB by default) holds at most 32 checks, a few milliseconds, however many clients send envelopes
    /// whose signatures must be checked.
    package static let signatureCheckWorkBytes = 8192

    /// The largest base64 text `mgmt.submit` decodes: the largest envelope's encoding.
    static var maxEnvelopeBase64Characters: Int { (ManagementCodec.maxEnvelopeBytes + 2) / 3 * 4 }

    /// `mgmt.submit {"envelope": BASE64}`: the operation's result, or `-32001` with the refusal's code as
    /// `data.reason` (`Protocols/management.md` §4).
    func mgmtSubmit(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["envelope"])
        let text = try params.requireString("envelope")
        guard text.utf8.count <= Self.maxEnvelopeBase64Characters else {
            let refusal = ManagementRefusal(
                "bad_envelope", "too_long: envelope text over \(Self.maxEnvelopeBase64Characters) characters")
            return refused(refuseUnread(refusal, source: "control"))
        }
        guard let bytes = Base64.decode(text) else {
            throw .invalidParams(param: "envelope", expected: "base64 (RFC 4648 §4)")
        }
        // Answered when the command has run: now, or later when its long work runs off the loop (a software
        // image copied, `Protocols/management.md` §4). The call stays held by its session meanwhile; a client that
        // goes away only loses the answer: the command still runs to its end and is audited.
        var answerNow: ControlReply?
        var returned = false
        let signatures = submit(bytes[...], source: "control") { [weak self] result in
            let reply: ControlReply
            switch result {
            case .success(let output): reply = .result(["result": "accepted", "output": output])
            case .failure(let refusal): reply = self?.refused(refusal) ?? .error(.unavailable("stopped"))
            }
            if returned { call.reply(reply) } else { answerNow = reply }
        }
        returned = true
        call.workBytes += signatures * Self.signatureCheckWorkBytes
        return answerNow ?? .deferred
    }

    private func refused(_ refusal: ManagementRefusal) -> ControlReply {
        .error(
            ControlError(
                code: .forbidden, reason: refusal.code, message: "management command refused: \(refusal.code)",
                details: ["detail": .string(refusal.detail)]))
    }

    /// `mgmt.status {}`: each authority's counter, key ids and threshold, and the audit log's newest entries.
    func mgmtStatus(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        var authorities: [JSON] = []
        for authority in config.authorities {
            guard let trust = verifier.trust.authorities[authority.name] else { continue }
            authorities.append([
                "name": .string(authority.name), "counter": .string(String(trust.counter)),
                "keys": .array(trust.keys.map { .string($0) }), "threshold": .int(Int64(trust.threshold)),
                "mayDowngrade": .bool(authority.mayDowngrade),
                "grants": .array(
                    authority.grants.map {
                        [
                            "operations": .array($0.operations.map { .string($0) }),
                            "partitions": .array($0.partitions.map { .string($0) }),
                        ]
                    }),
            ])
        }
        return .result([
            "persistent": .bool(store != nil), "authorities": .array(authorities), "counters": counters.json,
            "auditTail": .array(audit.entries.suffix(10).map(\.json)),
        ])
    }

    /// `mgmt.audit {"from": SEQ, "limit": N}`: up to `limit` (1...1000, default 100) entries from sequence
    /// number `from` (default the oldest kept); `next` is where the following page starts.
    func mgmtAudit(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["from", "limit"])
        let from = try params.optionalInteger("from", in: UInt64(0)...UInt64(Int64.max)) ?? 0
        let limit = try params.optionalInteger("limit", in: 1...1000) ?? 100
        let page = audit.page(from: from, limit: limit)
        return .result([
            "entries": .array(page.map(\.json)), "next": .uint((page.last?.sequence ?? max(from, 1) - 1) + 1),
            "oldest": .uint(audit.entries.first?.sequence ?? audit.nextSequence),
        ])
    }
}
