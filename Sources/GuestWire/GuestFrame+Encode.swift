import Wire

extension GuestFrame {
    /// The frame with its 4-byte length prefix, ready to write (§3.1).
    public func encode() -> [UInt8] {
        var writer = ByteWriter(
            capacity: GuestProtocol.prefixLength + GuestFrameHeader.length + message.encodedSizeHint)
        writer.writeU32BE(0)
        writeBody(into: &writer)
        writer.patchU32BE(UInt32(truncatingIfNeeded: writer.count - GuestProtocol.prefixLength), at: 0)
        return writer.bytes
    }

    /// Appends the whole frame (length prefix, header, payload) to `writer`: a session batches a pass's frames
    /// in one buffer instead of allocating one array per frame.
    public func encode(into writer: inout ByteWriter) {
        let start = writer.count
        writer.writeU32BE(0)
        writeBody(into: &writer)
        writer.patchU32BE(UInt32(truncatingIfNeeded: writer.count - start - GuestProtocol.prefixLength), at: start)
    }

    /// The frame body (header + payload) without the prefix: what the handshake transcript covers.
    public func encodeBody() -> [UInt8] {
        var writer = ByteWriter(capacity: GuestFrameHeader.length + message.encodedSizeHint)
        writeBody(into: &writer)
        return writer.bytes
    }

    /// Appends the body (header + payload) to `writer`; lets a session batch many frames in one buffer.
    public func writeBody(into writer: inout ByteWriter) {
        writer.writeU16BE(message.type.rawValue)
        writer.writeU16BE(channel)
        writer.writeU32BE(requestId)
        message.writePayload(into: &writer)
    }
}

extension GuestMessage {
    var encodedSizeHint: Int {
        switch self {
        case .msgSend(_, _, let payload): return 12 + payload.count
        case .msgSendSequenced(_, _, _, let payload): return 20 + payload.count
        case .sendSequences(let entries): return 2 + entries.count * 12
        case .msgDeliver(let delivery): return 86 + delivery.payload.count
        case .msgSendAs(_, _, _, let payload): return 77 + payload.count
        case .msgDeliverAs(let delivery, _): return 151 + delivery.payload.count
        case .regionData(_, _, let bytes), .regionWrite(_, _, let bytes): return 12 + bytes.count
        case .channelData(let bytes): return bytes.count
        case .channelOpen(_, let options), .channelOpened(_, let options): return 70 + options.count
        case .welcome(let welcome):
            return 40 + welcome.lines.count * 3 + welcome.links.count * 146 + welcome.regions.count * 83
                + welcome.peers.count * 65
        default: return 64
        }
    }

    // shape: switch table — one case per message type, each writing its payload (Protocols/guest.md §4).
    func writePayload(into writer: inout ByteWriter) {
        switch self {
        case .hello(let hello):
            writer.writeU16BE(hello.minVersion)
            writer.writeU16BE(hello.maxVersion)
            writer.writeName(hello.partition)
            writer.writeNames(hello.features, countWidth: 1)
            if let token = hello.resumeToken {
                writer.writeU8(UInt8(truncatingIfNeeded: token.count))
                writer.writeBytes(token)
            } else {
                writer.writeU8(0)
            }
        case .challenge(let challenge):
            writer.writeU16BE(challenge.version)
            writer.writeBytes(challenge.nonce)
            writer.writeNames(challenge.features, countWidth: 1)
        case .proof(let mac):
            writer.writeBytes(mac)
        case .welcome(let welcome):
            writer.writeU64BE(welcome.sessionId)
            writer.writeBytes(welcome.resumeToken)
            writer.writeU8(welcome.resumed ? 1 : 0)
            writer.writeU32BE(welcome.maxFrameLength)
            writer.writeU32BE(welcome.heartbeatMillis)
            writer.writeU16BE(UInt16(truncatingIfNeeded: welcome.lines.count))
            for line in welcome.lines {
                writer.writeU16BE(line.line)
                writer.writeU8(line.priority)
            }
            writer.writeU16BE(UInt16(truncatingIfNeeded: welcome.links.count))
            for link in welcome.links { writer.writeLinkInfo(link) }
            writer.writeU16BE(UInt16(truncatingIfNeeded: welcome.regions.count))
            for region in welcome.regions {
                writer.writeU32BE(region.id)
                writer.writeName(region.name)
                writer.writeU64BE(region.size)
                writer.writeU8(region.access.rawValue)
                writer.writeU16BE(region.doorbellLine)
            }
            writer.writeNames(welcome.peers, countWidth: 2)
        case .error(let code, let reason):
            writer.writeU16BE(code.rawValue)
            writer.writeReason(reason)
        case .ok, .resume, .markGood, .powerQuery:
            break
        case .powerState(let state):
            writer.writeU8(state.rawValue)
        case .wakeLock(let held, let name):
            writer.writeU8(held ? 1 : 0)
            writer.writeName(name)
        case .wake(let source, let line, let from):
            writer.writeName(source)
            writer.writeU16BE(line)
            writer.writeU8(from.rawValue)
        case .partitionControl(let action, let partition, let reason):
            writer.writeU8(action.rawValue)
            writer.writeName(partition)
            writer.writeReason(reason)
        case .partitionControlResult(let partition, let action, let status):
            writer.writeName(partition)
            writer.writeU8(action.rawValue)
            writer.writeU8(status.rawValue)
        case .powerInfo(let info):
            writer.writeU8(info.platform.rawValue)
            writer.writeU8(info.partition.rawValue)
            writer.writeU16BE(info.batteryCentiPercent)
            writer.writeU8(info.charging ? 1 : 0)
            writer.writeU32BE(info.drawMw)
            writer.writeU16BE(info.locks)
        case .raise(let partition, let line):
            writer.writeName(partition)
            writer.writeU16BE(line)
        case .raiseResult(let outcome):
            writer.writeU8(outcome.rawValue)
        case .irq(let line, let priority, let coalesced):
            writer.writeU16BE(line)
            writer.writeU8(priority)
            writer.writeU32BE(coalesced)
        case .eoi(let line), .mask(let line), .unmask(let line), .timerCancel(let line):
            writer.writeU16BE(line)
        case .setPriority(let line, let priority):
            writer.writeU16BE(line)
            writer.writeU8(priority)
        case .timerSet(let line, let first, let period):
            writer.writeU16BE(line)
            writer.writeU64BE(first)
            writer.writeU64BE(period)
        case .msgSend(let link, let correlation, let payload):
            writer.writeU32BE(link)
            writer.writeU64BE(correlation)
            writer.writeBytes(payload)
        case .msgSendSequenced(let link, let sequence, let correlation, let payload):
            writer.writeU32BE(link)
            writer.writeU64BE(sequence)
            writer.writeU64BE(correlation)
            writer.writeBytes(payload)
        case .sendSequences(let entries):
            writer.writeU16BE(UInt16(truncatingIfNeeded: entries.count))
            for entry in entries {
                writer.writeU32BE(entry.link)
                writer.writeU64BE(entry.lastAccepted)
            }
        case .msgSent(let link, let messageId, let status):
            writer.writeU32BE(link)
            writer.writeU64BE(messageId)
            writer.writeU8(status.rawValue)
        case .msgDeliver(let delivery):
            // Field by field, independently of the hub's one-run fast path (`encodeMessageDelivery`): the codec
            // tests check the two against each other.
            writer.writeU32BE(delivery.link)
            writer.writeU64BE(delivery.messageId)
            writer.writeName(delivery.sender)
            writer.writeU64BE(delivery.correlation)
            writer.writeBytes(delivery.payload)
        case .msgSendAs(let link, let correlation, let identity, let payload):
            writer.writeU32BE(link)
            writer.writeU64BE(correlation)
            writer.writeName(identity)
            writer.writeBytes(payload)
        case .msgDeliverAs(let delivery, let identity):
            writer.writeU32BE(delivery.link)
            writer.writeU64BE(delivery.messageId)
            writer.writeName(delivery.sender)
            writer.writeName(identity)
            writer.writeU64BE(delivery.correlation)
            writer.writeBytes(delivery.payload)
        case .msgAck(let link, let upTo):
            writer.writeU32BE(link)
            writer.writeU64BE(upTo)
        case .credit(let link, let credit):
            writer.writeU32BE(link)
            writer.writeU32BE(credit)
        case .linkOpen(let name, let peer, let maxMessage, let depth):
            writer.writeName(name)
            writer.writeName(peer)
            writer.writeU32BE(maxMessage)
            writer.writeU32BE(depth)
        case .linkOpened(let opened):
            writer.writeLinkInfo(opened.link)
            writer.writeU8(opened.existing ? 1 : 0)
            writer.writeName(opened.openedBy)
        case .linkClose(let link):
            writer.writeU32BE(link)
        case .linkClosed(let link, let state, let held):
            writer.writeU32BE(link)
            writer.writeU8(state.rawValue)
            writer.writeU32BE(held)
        case .regionRead(let region, let offset, let length):
            writer.writeU32BE(region)
            writer.writeU64BE(offset)
            writer.writeU32BE(length)
        case .regionData(let region, let offset, let bytes), .regionWrite(let region, let offset, let bytes):
            writer.writeU32BE(region)
            writer.writeU64BE(offset)
            writer.writeBytes(bytes)
        case .regionResult(let region, let status):
            writer.writeU32BE(region)
            writer.writeU8(status.rawValue)
        case .regionFD(let region, let access, let size):
            writer.writeU32BE(region)
            writer.writeU8(access.rawValue)
            writer.writeU64BE(size)
        case .heartbeat(let stamp), .heartbeatAck(let stamp):
            writer.writeU64BE(stamp)
        case .suspend(let reason), .detach(let reason):
            writer.writeReason(reason)
        case .errorReport(let severity, let code, let text):
            writer.writeU8(severity.rawValue)
            writer.writeName(code)
            writer.writeReason(text)
        case .policyActivate(let profile):
            writer.writeName(profile)
        case .policyChanged(let generation, let profile, let summary):
            writer.writeU64BE(generation)
            writer.writeName(profile)
            writer.writeReason(summary)
        case .channelOpen(let device, let options):
            writer.writeName(device)
            writer.writeBytes(options)
        case .channelOpened(let maxData, let options):
            writer.writeU32BE(maxData)
            writer.writeBytes(options)
        case .channelData(let bytes):
            writer.writeBytes(bytes)
        case .channelClose(let code, let reason):
            writer.writeU16BE(code)
            writer.writeReason(reason)
        }
    }
}

extension ByteWriter {
    /// A name is a u8 length and UTF-8 bytes (§3.3). Names come from configuration, which the hub
    /// validates against the 64-byte limit; a name that cannot be represented at all is a bug.
    @inlinable
    mutating func writeName(_ name: String) {
        var name = name
        // Contiguous UTF-8 (native strings already are): one bulk append, not a walk over the UTF-8 view.
        name.withUTF8 { utf8 in
            precondition(utf8.count <= 255, "guest protocol name longer than 255 bytes")
            writeU8(UInt8(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// `link_info` (§5.4): in `WELCOME` and `LINK_OPENED`.
    mutating func writeLinkInfo(_ link: GuestLinkInfo) {
        writeU32BE(link.id)
        writeName(link.name)
        writeName(link.peer)
        writeU32BE(link.maxMessage)
        writeU32BE(link.depth)
        writeU32BE(link.initialCredit)
    }

    mutating func writeNames(_ names: [String], countWidth: Int) {
        if countWidth == 1 {
            writeU8(UInt8(truncatingIfNeeded: names.count))
        } else {
            writeU16BE(UInt16(truncatingIfNeeded: names.count))
        }
        for name in names { writeName(name) }
    }

    /// A reason is a u16 length and UTF-8 bytes, cut at 1024 bytes on a character boundary: it is
    /// human text, so shortening it is better than failing the frame that reports an error.
    mutating func writeReason(_ reason: String) {
        let utf8 = Array(GuestText.shortened(reason).utf8)
        writeU16BE(UInt16(utf8.count))
        writeBytes(utf8)
    }
}
