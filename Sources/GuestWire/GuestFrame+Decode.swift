import Wire

extension GuestFrame {
    /// Decodes one frame body (header + payload, the length prefix already removed) (§3–§10).
    ///
    /// Byte-run fields are slices of `body`; nothing larger than a name is copied.
    public static func decode(
        body: ArraySlice<UInt8>, limits: GuestLimits = .default
    ) -> Result<GuestFrame, GuestDecodeError> {
        guard body.count >= GuestFrameHeader.length else {
            return .failure(GuestDecodeError(header: nil, reason: .truncated(field: "header")))
        }
        var reader = BodyReader(bytes: body, limits: limits)
        // The length check above makes these reads infallible.
        let header = GuestFrameHeader(
            type: reader.u16Unchecked(), channel: reader.u16Unchecked(), requestId: reader.u32Unchecked())
        guard let type = GuestFrameType(rawValue: header.type) else {
            return .failure(GuestDecodeError(header: header, reason: .unknownFrameType(header.type)))
        }
        switch type.channelRule {
        case .session where header.channel != GuestProtocol.sessionChannel,
            .device where header.channel == GuestProtocol.sessionChannel:
            return .failure(GuestDecodeError(header: header, reason: .wrongChannel(header.channel)))
        default: break
        }
        do throws(GuestDecodeError.Reason) {
            let message = try reader.message(type)
            if reader.remaining > 0 { throw .trailingBytes(reader.remaining) }
            return .success(GuestFrame(message, channel: header.channel, requestId: header.requestId))
        } catch {
            return .failure(GuestDecodeError(header: header, reason: error))
        }
    }
}

/// A bounds-checked cursor that reports failures as `GuestDecodeError.Reason` naming the field.
private struct BodyReader {
    typealias Reason = GuestDecodeError.Reason
    let bytes: ArraySlice<UInt8>
    let limits: GuestLimits
    var index: Int

    init(bytes: ArraySlice<UInt8>, limits: GuestLimits) {
        self.bytes = bytes
        self.limits = limits
        self.index = bytes.startIndex
    }

    var remaining: Int { bytes.endIndex - index }

    mutating func u16Unchecked() -> UInt16 {
        defer { index += 2 }
        return UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
    }

    mutating func u32Unchecked() -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 { value = value << 8 | UInt32(bytes[index + offset]) }
        index += 4
        return value
    }

    mutating func u8(_ field: String) throws(Reason) -> UInt8 {
        guard remaining >= 1 else { throw .truncated(field: field) }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func u16(_ field: String) throws(Reason) -> UInt16 {
        guard remaining >= 2 else { throw .truncated(field: field) }
        return u16Unchecked()
    }

    mutating func u32(_ field: String) throws(Reason) -> UInt32 {
        guard remaining >= 4 else { throw .truncated(field: field) }
        return u32Unchecked()
    }

    mutating func u64(_ field: String) throws(Reason) -> UInt64 {
        guard remaining >= 8 else { throw .truncated(field: field) }
        var value: UInt64 = 0
        for offset in 0..<8 { value = value << 8 | UInt64(bytes[index + offset]) }
        index += 8
        return value
    }

    mutating func slice(_ count: Int, _ field: String) throws(Reason) -> ArraySlice<UInt8> {
        guard remaining >= count else { throw .truncated(field: field) }
        defer { index += count }
        return bytes[index..<index + count]
    }

    mutating func rest() -> ArraySlice<UInt8> {
        defer { index = bytes.endIndex }
        return bytes[index...]
    }

    mutating func bool(_ field: String) throws(Reason) -> Bool {
        switch try u8(field) {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue(field: field, reason: "\(other) is not 0 or 1")
        }
    }

    mutating func priority(_ field: String) throws(Reason) -> UInt8 {
        let value = try u8(field)
        guard value <= GuestProtocol.lowestPriority else {
            throw .invalidValue(field: field, reason: "\(value) is above \(GuestProtocol.lowestPriority)")
        }
        return value
    }

    mutating func enumValue<E: RawRepresentable>(_: E.Type, _ field: String) throws(Reason) -> E
    where E.RawValue == UInt8 {
        let raw = try u8(field)
        guard let value = E(rawValue: raw) else { throw .invalidValue(field: field, reason: "undefined value \(raw)") }
        return value
    }

    /// Length is checked against the limit before the bytes are touched.
    mutating func name(_ field: String) throws(Reason) -> String {
        let count = Int(try u8(field))
        guard count <= limits.maxNameBytes else {
            throw .nameTooLong(field: field, length: count, limit: limits.maxNameBytes)
        }
        return try utf8(count, field)
    }

    /// An identity (§7.12): a name whose bytes follow `GuestIdentity`'s alphabet, checked before it becomes a string.
    mutating func identity(_ field: String) throws(Reason) -> String {
        let count = Int(try u8(field))
        guard count <= GuestIdentity.maxBytes else {
            throw .nameTooLong(field: field, length: count, limit: GuestIdentity.maxBytes)
        }
        let raw = try slice(count, field)
        guard GuestIdentity.isValid(raw) else {
            throw .invalidValue(field: field, reason: "empty, or a byte outside letters, digits and . _ - @ : +")
        }
        return String(decoding: raw, as: UTF8.self)
    }

    mutating func reason(_ field: String) throws(Reason) -> String {
        let count = Int(try u16(field))
        guard count <= limits.maxReasonBytes else {
            throw .nameTooLong(field: field, length: count, limit: limits.maxReasonBytes)
        }
        return try utf8(count, field)
    }

    mutating func utf8(_ count: Int, _ field: String) throws(Reason) -> String {
        let raw = try slice(count, field)
        guard let text = GuestFrame.validatedUTF8(raw) else { throw .invalidUTF8(field: field) }
        return text
    }

    /// A counted list: the count is checked against its limit and against the bytes left (each
    /// element takes at least `minElement` bytes) before the array is reserved.
    mutating func count(_ field: String, wide: Bool, limit: Int, minElement: Int) throws(Reason) -> Int {
        let count = wide ? Int(try u16(field)) : Int(try u8(field))
        guard count <= limit else { throw .tooMany(field: field, count: count, limit: limit) }
        guard count * minElement <= remaining else { throw .truncated(field: field) }
        return count
    }

    mutating func names(_ field: String, wide: Bool, limit: Int) throws(Reason) -> [String] {
        let count = try count(field, wide: wide, limit: limit, minElement: 1)
        var names: [String] = []
        names.reserveCapacity(count)
        for _ in 0..<count { names.append(try name(field)) }
        return names
    }

    // shape: switch table — one case per frame type, each reading its payload (Protocols/guest.md §4).
    mutating func message(_ type: GuestFrameType) throws(Reason) -> GuestMessage {
        switch type {
        case .hello:
            let minVersion = try u16("min_version")
            let maxVersion = try u16("max_version")
            let partition = try name("partition")
            let features = try names("features", wide: false, limit: limits.maxFeatures)
            let tokenLength = Int(try u8("resume_token"))
            guard tokenLength == 0 || tokenLength == GuestProtocol.resumeTokenLength else {
                throw .invalidValue(field: "resume_token", reason: "length \(tokenLength) is not 0 or 16")
            }
            let token = tokenLength == 0 ? nil : Array(try slice(tokenLength, "resume_token"))
            return .hello(
                GuestHello(
                    minVersion: minVersion, maxVersion: maxVersion, partition: partition, features: features,
                    resumeToken: token))
        case .challenge:
            let version = try u16("version")
            let nonce = Array(try slice(GuestProtocol.nonceLength, "nonce"))
            let features = try names("features", wide: false, limit: limits.maxFeatures)
            return .challenge(GuestChallenge(version: version, nonce: nonce, features: features))
        case .proof:
            return .proof(mac: Array(try slice(GuestProtocol.macLength, "mac")))
        case .welcome:
            return .welcome(try welcome())
        case .error:
            let raw = try u16("code")
            guard let code = GuestErrorCode(rawValue: raw) else {
                throw .invalidValue(field: "code", reason: "undefined error code \(raw)")
            }
            return .error(code: code, reason: try reason("reason"))
        case .ok: return .ok
        case .raise: return .raise(partition: try name("partition"), line: try u16("line"))
        case .raiseResult: return .raiseResult(try enumValue(GuestRaiseOutcome.self, "outcome"))
        case .irq:
            let line = try u16("line")
            let priority = try priority("priority")
            let coalesced = try u32("coalesced")
            guard coalesced >= 1 else { throw .invalidValue(field: "coalesced", reason: "0 raises") }
            return .irq(line: line, priority: priority, coalesced: coalesced)
        case .eoi: return .eoi(line: try u16("line"))
        case .mask: return .mask(line: try u16("line"))
        case .unmask: return .unmask(line: try u16("line"))
        case .setPriority: return .setPriority(line: try u16("line"), priority: try priority("priority"))
        case .timerSet:
            return .timerSet(
                line: try u16("line"), firstDelayMicros: try u64("first_delay_us"), periodMicros: try u64("period_us"))
        case .timerCancel: return .timerCancel(line: try u16("line"))
        case .msgSend:
            return .msgSend(link: try u32("link"), correlation: try u64("correlation"), payload: rest())
        case .msgSent:
            return .msgSent(
                link: try u32("link"), messageId: try u64("message_id"),
                status: try enumValue(GuestSendStatus.self, "status"))
        case .msgDeliver:
            let link = try u32("link")
            let messageId = try u64("message_id")
            let sender = try name("sender")
            let correlation = try u64("correlation")
            return .msgDeliver(
                GuestDelivery(
                    link: link, messageId: messageId, sender: sender, correlation: correlation, payload: rest()))
        case .msgAck: return .msgAck(link: try u32("link"), upTo: try u64("up_to"))
        case .credit: return .credit(link: try u32("link"), credit: try u32("credit"))
        case .linkOpen:
            let linkName = try name("name")
            let peer = try name("peer")
            let maxMessage = try u32("max_message")
            guard maxMessage >= 1 else { throw .invalidValue(field: "max_message", reason: "0 bytes") }
            let depth = try u32("depth")
            guard depth >= 1 else { throw .invalidValue(field: "depth", reason: "0 messages") }
            return .linkOpen(name: linkName, peer: peer, maxMessage: maxMessage, depth: depth)
        case .linkOpened:
            let link = try linkInfo()
            let existing = try bool("existing")
            return .linkOpened(GuestLinkOpened(link: link, existing: existing, openedBy: try name("opened_by")))
        case .linkClose: return .linkClose(link: try u32("link"))
        case .linkClosed:
            return .linkClosed(
                link: try u32("link"), state: try enumValue(GuestLinkState.self, "state"), held: try u32("held"))
        case .msgSendSequenced:
            let link = try u32("link")
            let sequence = try u64("sequence")
            guard sequence >= 1 else { throw .invalidValue(field: "sequence", reason: "0 (sequences start at 1)") }
            return .msgSendSequenced(
                link: link, sequence: sequence, correlation: try u64("correlation"), payload: rest())
        case .sendSequences:
            let count = try count("links", wide: true, limit: limits.maxLinks, minElement: 12)
            var entries: [GuestSendSequence] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                entries.append(GuestSendSequence(link: try u32("link"), lastAccepted: try u64("last_accepted")))
            }
            return .sendSequences(entries)
        case .msgSendAs:
            let link = try u32("link")
            let correlation = try u64("correlation")
            return .msgSendAs(link: link, correlation: correlation, identity: try identity("identity"), payload: rest())
        case .msgDeliverAs:
            let link = try u32("link")
            let messageId = try u64("message_id")
            let sender = try name("sender")
            let identity = try identity("identity")
            let correlation = try u64("correlation")
            return .msgDeliverAs(
                GuestDelivery(
                    link: link, messageId: messageId, sender: sender, correlation: correlation, payload: rest()),
                identity: identity)
        case .regionRead:
            let region = try u32("region")
            let offset = try u64("offset")
            let length = try u32("length")
            guard Int(length) <= limits.maxRegionRead else {
                throw .tooLarge(field: "length", length: Int(length), limit: limits.maxRegionRead)
            }
            return .regionRead(region: region, offset: offset, length: length)
        case .regionData: return .regionData(region: try u32("region"), offset: try u64("offset"), bytes: rest())
        case .regionWrite: return .regionWrite(region: try u32("region"), offset: try u64("offset"), bytes: rest())
        case .regionResult:
            return .regionResult(region: try u32("region"), status: try enumValue(GuestRegionStatus.self, "status"))
        case .regionFD:
            return .regionFD(
                region: try u32("region"), access: try enumValue(GuestRegionAccess.self, "access"),
                size: try u64("size"))
        case .heartbeat: return .heartbeat(stamp: try u64("stamp"))
        case .heartbeatAck: return .heartbeatAck(stamp: try u64("stamp"))
        case .suspend: return .suspend(reason: try reason("reason"))
        case .resume: return .resume
        case .markGood: return .markGood
        case .errorReport:
            return .errorReport(
                severity: try enumValue(GuestErrorSeverity.self, "severity"), code: try name("code"),
                text: try reason("text"))
        case .powerState: return .powerState(try enumValue(GuestPowerState.self, "state"))
        case .wakeLock:
            let held = try bool("held")
            let lock = try name("name")
            guard !lock.isEmpty else { throw .invalidValue(field: "name", reason: "empty wake lock name") }
            return .wakeLock(held: held, name: lock)
        case .wake:
            return .wake(
                source: try name("source"), line: try u16("line"), from: try enumValue(GuestPowerState.self, "from"))
        case .partitionControl:
            return .partitionControl(
                action: try enumValue(GuestPartitionAction.self, "action"), partition: try name("partition"),
                reason: try reason("reason"))
        case .partitionControlResult:
            return .partitionControlResult(
                partition: try name("partition"), action: try enumValue(GuestPartitionAction.self, "action"),
                status: try enumValue(GuestPartitionControlStatus.self, "status"))
        case .powerQuery: return .powerQuery
        case .powerInfo:
            let platform = try enumValue(GuestPlatformPowerState.self, "platform")
            let partition = try enumValue(GuestPowerState.self, "partition")
            let level = try u16("battery")
            guard level <= 10_000 else { throw .invalidValue(field: "battery", reason: "\(level) is above 10000") }
            return .powerInfo(
                GuestPowerInfo(
                    platform: platform, partition: partition, batteryCentiPercent: level,
                    charging: try bool("charging"), drawMw: try u32("draw_mw"), locks: try u16("locks")))
        case .policyActivate: return .policyActivate(profile: try name("profile"))
        case .policyChanged:
            return .policyChanged(
                generation: try u64("generation"), profile: try name("profile"), summary: try reason("summary"))
        case .detach: return .detach(reason: try reason("reason"))
        case .channelOpen: return .channelOpen(device: try name("device"), options: rest())
        case .channelOpened: return .channelOpened(maxData: try u32("max_data"), options: rest())
        case .channelData: return .channelData(rest())
        case .channelClose:
            // 0 or a code of §5.5 (§10.4); an undefined code is malformed, as in ERROR.
            let code = try u16("code")
            guard code == 0 || GuestErrorCode(rawValue: code) != nil else {
                throw .invalidValue(field: "code", reason: "undefined error code \(code)")
            }
            return .channelClose(code: code, reason: try reason("reason"))
        }
    }

    /// `link_info` (§5.4), shared by `WELCOME` and `LINK_OPENED`.
    mutating func linkInfo() throws(Reason) -> GuestLinkInfo {
        GuestLinkInfo(
            id: try u32("link_id"), name: try name("link_name"), peer: try name("link_peer"),
            maxMessage: try u32("max_message"), depth: try u32("depth"), initialCredit: try u32("initial_credit"))
    }

    mutating func welcome() throws(Reason) -> GuestWelcome {
        let sessionId = try u64("session_id")
        let token = Array(try slice(GuestProtocol.resumeTokenLength, "resume_token"))
        let resumed = try bool("resumed")
        let maxFrame = try u32("max_frame")
        let heartbeat = try u32("heartbeat_ms")
        let lineCount = try count("lines", wide: true, limit: limits.maxLines, minElement: 3)
        var lines: [GuestLineInfo] = []
        lines.reserveCapacity(lineCount)
        for _ in 0..<lineCount {
            lines.append(GuestLineInfo(line: try u16("line"), priority: try priority("priority")))
        }
        let linkCount = try count("links", wide: true, limit: limits.maxLinks, minElement: 18)
        var links: [GuestLinkInfo] = []
        links.reserveCapacity(linkCount)
        for _ in 0..<linkCount { links.append(try linkInfo()) }
        let regionCount = try count("regions", wide: true, limit: limits.maxRegions, minElement: 16)
        var regions: [GuestRegionInfo] = []
        regions.reserveCapacity(regionCount)
        for _ in 0..<regionCount {
            regions.append(
                GuestRegionInfo(
                    id: try u32("region_id"), name: try name("region_name"), size: try u64("size"),
                    access: try enumValue(GuestRegionAccess.self, "access"), doorbellLine: try u16("doorbell_line")))
        }
        let peers = try names("peers", wide: true, limit: limits.maxPeers)
        return GuestWelcome(
            sessionId: sessionId, resumeToken: token, resumed: resumed, maxFrameLength: maxFrame,
            heartbeatMillis: heartbeat, lines: lines, links: links, regions: regions, peers: peers)
    }
}
