/// Bytes ↔ key service messages (`Protocols/keyservice.md` §3). Every length is checked before anything is copied;
/// a request decoder answers the first failure in the spec's order (§3.3).
public enum KeyServiceCodec {
    public static func encode(_ request: KeyServiceRequest) -> [UInt8] {
        var out: [UInt8] = [KeyServiceLimits.version, request.op.rawValue]
        switch request {
        case .publicKey, .stats: break
        case .sign(let data): out += data
        case .verify(let signature, let data): out += signature + data
        case .put(let name, let value): out += [UInt8(truncatingIfNeeded: name.utf8.count)] + Array(name.utf8) + value
        case .get(let name): out += [UInt8(truncatingIfNeeded: name.utf8.count)] + Array(name.utf8)
        }
        return out
    }

    public static func decodeRequest(_ bytes: some Collection<UInt8>) -> Result<
        KeyServiceRequest, KeyServiceDecodeError
    > {
        let payload = Array(bytes)
        guard payload.count >= 2 else {
            return .failure(.init(.malformed, "\(payload.count) bytes: no version and op"))
        }
        let (version, raw) = (payload[0], payload[1])
        guard version == KeyServiceLimits.version else {
            return .failure(.init(.badVersion, op: raw, "version \(version)"))
        }
        guard let op = KeyServiceOp(rawValue: raw) else { return .failure(.init(.unknownOp, op: raw, "op \(raw)")) }
        let body = payload[2...]
        func fail(_ status: KeyServiceStatus, _ reason: String) -> Result<KeyServiceRequest, KeyServiceDecodeError> {
            .failure(.init(status, op: raw, reason))
        }
        switch op {
        case .publicKey, .stats:
            guard body.isEmpty else { return fail(.malformed, "\(body.count) bytes after \(op)") }
            return .success(op == .stats ? .stats : .publicKey)
        case .sign, .verify:
            var data = body
            var signature: [UInt8] = []
            if op == .verify {
                guard data.count >= KeyServiceLimits.signatureBytes else {
                    return fail(.malformed, "signature cut short")
                }
                signature = Array(data.prefix(KeyServiceLimits.signatureBytes))
                data = data.dropFirst(KeyServiceLimits.signatureBytes)
            }
            guard data.count <= KeyServiceLimits.maxData else {
                return fail(.tooLarge, "data of \(data.count) bytes > \(KeyServiceLimits.maxData)")
            }
            return .success(op == .sign ? .sign(data: Array(data)) : .verify(signature: signature, data: Array(data)))
        case .put, .get:
            guard let length = body.first.map(Int.init), length >= 1, length <= KeyServiceLimits.maxName,
                body.count >= 1 + length
            else { return fail(.malformed, "storage name length 0, over 64 or past the end") }
            let nameBytes = body.dropFirst().prefix(length)
            guard KeyServiceLimits.isValidName(nameBytes) else {
                return fail(.malformed, "storage name byte outside letters, digits, . _ -")
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            let rest = body.dropFirst(1 + length)
            if op == .get {
                guard rest.isEmpty else { return fail(.malformed, "\(rest.count) bytes after the name") }
                return .success(.get(name: name))
            }
            guard rest.count <= KeyServiceLimits.maxValue else {
                return fail(.tooLarge, "value of \(rest.count) bytes > \(KeyServiceLimits.maxValue)")
            }
            return .success(.put(name: name, value: Array(rest)))
        }
    }

    public static func encode(_ response: KeyServiceResponse) -> [UInt8] {
        var out: [UInt8] = [KeyServiceLimits.version, response.op, response.status.rawValue]
        guard response.status == .ok else {
            var reason = Array(response.reason.utf8.prefix(KeyServiceLimits.maxReason))
            // Cut at a character boundary: never leave a partial UTF-8 sequence.
            while !reason.isEmpty, String(validating: reason, as: UTF8.self) == nil { reason.removeLast() }
            out += [UInt8(reason.count >> 8), UInt8(reason.count & 0xff)] + reason
            return out
        }
        switch response.result {
        case .publicKey(let key): out += key
        case .signature(let signature): out += signature
        case .valid(let valid): out.append(valid ? 1 : 0)
        case .stored, nil: break
        case .value(let value): out += value
        case .stats(let stats):
            let known = [stats.requests, stats.signatures, stats.refused, stats.malformed]
            for number in known + (stats.dropped.map { [$0] } ?? []) {
                for shift in stride(from: 56, through: 0, by: -8) {
                    out.append(UInt8(truncatingIfNeeded: number >> shift))
                }
            }
        }
        return out
    }

    /// A client's decoder (§3.3): anything the spec does not allow is `malformed`.
    public static func decodeResponse(_ bytes: some Collection<UInt8>) -> Result<
        KeyServiceResponse, KeyServiceDecodeError
    > {
        let payload = Array(bytes)
        func malformed(_ reason: String) -> Result<KeyServiceResponse, KeyServiceDecodeError> {
            .failure(.init(.malformed, reason))
        }
        guard payload.count >= 3 else { return malformed("response of \(payload.count) bytes") }
        guard payload[0] == KeyServiceLimits.version else { return malformed("response version \(payload[0])") }
        let raw = payload[1]
        guard let status = KeyServiceStatus(rawValue: payload[2]) else { return malformed("status \(payload[2])") }
        let body = payload[3...]
        guard status == .ok else {
            guard body.count >= 2 else { return malformed("no reason length") }
            let length = Int(body[body.startIndex]) << 8 | Int(body[body.startIndex + 1])
            guard length <= KeyServiceLimits.maxReason, body.count == 2 + length,
                let reason = String(validating: body.dropFirst(2), as: UTF8.self)
            else { return malformed("reason length, size or UTF-8") }
            return .success(KeyServiceResponse(op: raw, status: status, reason: reason))
        }
        guard let op = KeyServiceOp(rawValue: raw) else { return malformed("ok for undefined op \(raw)") }
        let sizes: [KeyServiceOp: Int] = [
            .publicKey: KeyServiceLimits.publicKeyBytes, .sign: KeyServiceLimits.signatureBytes, .verify: 1, .put: 0,
        ]
        if let size = sizes[op], body.count != size { return malformed("\(op) result of \(body.count) bytes") }
        if op == .stats, body.count % 8 != 0 || !KeyServiceLimits.statsCounters.contains(body.count / 8) {
            return malformed("stats result of \(body.count) bytes, not 4...16 counters of 8")
        }
        let result: KeyServiceResult
        switch op {
        case .publicKey: result = .publicKey(Array(body))
        case .sign: result = .signature(Array(body))
        case .verify:
            guard body[body.startIndex] <= 1 else { return malformed("valid \(body[body.startIndex])") }
            result = .valid(body[body.startIndex] == 1)
        case .put: result = .stored
        case .get:
            guard body.count <= KeyServiceLimits.maxValue else { return malformed("value over 1024 bytes") }
            result = .value(Array(body))
        case .stats:
            // The counters this reader knows; any after them are a later version's, ignored (§3.2).
            var numbers: [UInt64] = []
            for index in 0..<min(5, body.count / 8) {
                let start = body.startIndex + index * 8
                numbers.append(body[start..<start + 8].reduce(0) { $0 << 8 | UInt64($1) })
            }
            result = .stats(
                KeyServiceStats(
                    requests: numbers[0], signatures: numbers[1], refused: numbers[2], malformed: numbers[3],
                    dropped: numbers.count > 4 ? numbers[4] : nil))
        }
        return .success(KeyServiceResponse(op: raw, status: .ok, result: result))
    }
}
