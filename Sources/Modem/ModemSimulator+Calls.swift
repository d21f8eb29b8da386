import ATWire

extension ModemSimulator {
    public static let maxCalls = 7
    static let dialCharacters = Set("0123456789+*#ABCDabcd")
    static let dialModifiers = Set(",TtPpWw!@ Ii-().Gg")

    /// The current calls, in id order.
    public var currentCalls: [ModemCall] { calls.sorted { $0.id < $1.id } }

    func clccLine(_ call: ModemCall) -> String {
        "+CLCC: \(call.id),\(call.direction == .outgoing ? 0 : 1),\(call.state.rawValue),0,\(call.multiparty ? 1 : 0),"
            + "\"\(call.number)\",\(call.typeOfAddress)"
    }

    func nextCallID() -> Int? {
        (1...max(1, min(profile.maxCalls, ModemSimulator.maxCalls))).first { id in !calls.contains { $0.id == id } }
    }

    func changed(_ index: Int) { events.append(.call(calls[index], ended: nil)) }

    func dial(_ argument: String) -> Outcome {
        var text = Substring(argument)
        let voice = text.hasSuffix(";")
        if voice { text = text.dropLast() }
        guard voice else {
            // Data calls (`ATD*99#`) are not simulated.
            return .final(.noCarrier)
        }
        guard !text.hasPrefix(">") else { return .cme(.operationNotSupported) }
        var number = ""
        for ch in text {
            if ModemSimulator.dialCharacters.contains(ch) {
                number.append(ch)
            } else if !ModemSimulator.dialModifiers.contains(ch) {
                return .cme(.invalidCharactersInDialString)
            }
        }
        guard !number.isEmpty else { return .error }
        guard number.count <= 40 else { return .cme(.dialStringTooLong) }
        guard cfun == 1 else { return .cme(.noNetworkService) }
        guard isRegistered else { return .final(.noCarrier) }
        guard !calls.contains(where: { [.incoming, .waiting, .dialing, .alerting].contains($0.state) }) else {
            return .cme(.operationNotAllowed)
        }
        let active = calls.indices.filter { calls[$0].state == .active }
        if !active.isEmpty {
            // Dialling during a call puts it on hold first (TS 22.083), which needs no held call already.
            guard !calls.contains(where: { $0.state == .held }) else { return .cme(.operationNotAllowed) }
            for index in active {
                calls[index].state = .held
                changed(index)
            }
        }
        guard let id = nextCallID() else { return .cme(.operationNotAllowed) }
        calls.append(ModemCall(id: id, direction: .outgoing, state: .dialing, number: number, presentation: .allowed))
        changed(calls.count - 1)
        alertAt[id] = now + profile.alertDelayMs
        return .ok
    }

    func answer() -> Outcome {
        guard let index = calls.firstIndex(where: { $0.state == .incoming }) else { return .final(.noCarrier) }
        calls[index].state = .active
        ringAt = nil
        changed(index)
        return .ok
    }

    /// ATH and +CHUP: every call but a waiting one ends; a waiting call then rings as incoming.
    func hangUpAll(reason: String) -> Outcome {
        for call in calls where call.state != .waiting {
            end(call.id, reason: reason, result: nil)
        }
        promoteWaiting()
        return .ok
    }

    /// The partition that owns the modem died: every call ends as if the handset dropped it, so the
    /// network side sees the call end (`owner_lost`) instead of a call nobody will ever hang up.
    public func ownerLost() {
        for call in calls { end(call.id, reason: "owner_lost", result: nil) }
    }

    /// Removes a call; `result` is the unsolicited code the host gets (none for its own hang-ups).
    func end(_ id: Int, reason: String, result: ATResultCode?) {
        guard let index = calls.firstIndex(where: { $0.id == id }) else { return }
        let call = calls.remove(at: index)
        alertAt[id] = nil
        giveUpAt[id] = nil
        if call.state == .incoming { ringAt = nil }
        events.append(.call(call, ended: reason))
        if let result { unsolicitedResult(result) }
        let remaining = calls.filter { $0.state != .waiting }
        if remaining.count == 1, let only = calls.firstIndex(where: { $0.id == remaining[0].id }) {
            if calls[only].multiparty {
                calls[only].multiparty = false
                changed(only)
            }
        }
    }

    func promoteWaiting() {
        guard !calls.contains(where: { $0.state != .waiting }),
            let index = calls.firstIndex(where: { $0.state == .waiting })
        else { return }
        calls[index].state = .incoming
        changed(index)
        ring()
    }

    func ring() {
        guard let call = calls.first(where: { $0.state == .incoming }) else { return }
        var lines = [crc == 1 ? "+CRING: VOICE" : "RING"]
        if clip == 1 {
            let number = call.presentation == .allowed ? call.number : ""
            let type = call.presentation == .allowed ? call.typeOfAddress : 128
            lines.append("+CLIP: \"\(number)\",\(type),,,,\(call.presentation.rawValue)")
        }
        if crc == 1 || !formatter.verbose {
            unsolicited(lines)
        } else {
            unsolicitedResult(.ring)
            if lines.count > 1 { unsolicited(Array(lines.dropFirst())) }
        }
        ringAt = now + profile.ringIntervalMs
    }

    func chld(_ c: ATCommand) -> Outcome {
        switch c.form {
        case .test: return info("+CHLD: (0,1,1x,2,2x,3,4)", .ok)
        case .read, .execute: return .error
        case .set: break
        }
        guard let text = c.parameter(0).string, let first = text.first, text.count <= 2,
            text.allSatisfy(\.isNumber)
        else { return .cme(.incorrectParameters) }
        let target = text.count == 2 ? Int(String(text.last!)) : nil
        let ringing = calls.firstIndex { $0.state == .waiting || $0.state == .incoming }
        switch first {
        case "0":
            if let ringing {
                end(calls[ringing].id, reason: "rejected", result: nil)
            } else {
                let held = calls.filter { $0.state == .held }
                guard !held.isEmpty else { return .cme(.operationNotAllowed) }
                for call in held { end(call.id, reason: "local", result: nil) }
            }
        case "1":
            if let target {
                guard calls.contains(where: { $0.id == target }) else { return .cme(.notFound) }
                end(target, reason: "local", result: nil)
                promoteWaiting()
                return .ok
            }
            for call in calls where call.state == .active || call.state == .dialing || call.state == .alerting {
                end(call.id, reason: "local", result: nil)
            }
            if let waiting = calls.firstIndex(where: { $0.state == .waiting || $0.state == .incoming }) {
                calls[waiting].state = .active
                ringAt = nil
                changed(waiting)
            } else {
                retrieveHeld()
            }
        case "2":
            if let target {
                guard let index = calls.firstIndex(where: { $0.id == target }),
                    calls[index].state == .active || calls[index].state == .held
                else { return .cme(.notFound) }
                for i in calls.indices where calls[i].state == .active && i != index {
                    calls[i].state = .held
                    changed(i)
                }
                if calls[index].state != .active || calls[index].multiparty {
                    calls[index].state = .active
                    calls[index].multiparty = false
                    changed(index)
                }
                return .ok
            }
            guard !calls.contains(where: { $0.state == .dialing || $0.state == .alerting }) else {
                return .cme(.operationNotAllowed)
            }
            let active = calls.indices.filter { calls[$0].state == .active }
            let held = calls.indices.filter { calls[$0].state == .held }
            if let ringing {
                guard held.isEmpty || active.isEmpty else { return .cme(.operationNotAllowed) }
                for index in active {
                    calls[index].state = .held
                    changed(index)
                }
                calls[ringing].state = .active
                ringAt = nil
                changed(ringing)
            } else {
                guard !active.isEmpty || !held.isEmpty else { return .cme(.operationNotAllowed) }
                for index in active {
                    calls[index].state = .held
                    changed(index)
                }
                for index in held {
                    calls[index].state = .active
                    changed(index)
                }
            }
        case "3":
            let involved = calls.indices.filter { calls[$0].state == .active || calls[$0].state == .held }
            guard calls.contains(where: { $0.state == .held }), calls.contains(where: { $0.state == .active }) else {
                return .cme(.operationNotAllowed)
            }
            for index in involved {
                calls[index].state = .active
                calls[index].multiparty = true
                changed(index)
            }
        case "4":
            guard let held = calls.first(where: { $0.state == .held }),
                let other = calls.first(where: { [.active, .alerting].contains($0.state) })
            else { return .cme(.operationNotAllowed) }
            end(held.id, reason: "transferred", result: nil)
            end(other.id, reason: "transferred", result: nil)
        default:
            return .cme(.incorrectParameters)
        }
        return .ok
    }

    func retrieveHeld() {
        for index in calls.indices where calls[index].state == .held {
            calls[index].state = .active
            changed(index)
        }
    }

    func vts(_ c: ATCommand) -> Outcome {
        guard c.form == .set else { return c.form == .test ? info("+VTS: (0-9,#,*,A-D)", .ok) : .error }
        guard let digits = c.parameter(0).string, !digits.isEmpty, digits.count <= 32,
            digits.allSatisfy({ "0123456789#*ABCDabcd".contains($0) })
        else { return .cme(.incorrectParameters) }
        guard let index = calls.firstIndex(where: { $0.state == .active }) else { return .cme(.operationNotAllowed) }
        calls[index].dtmf += digits.uppercased()
        events.append(.dtmf(callID: calls[index].id, digits: digits.uppercased()))
        return .ok
    }

    func dropCallsForNetworkLoss() {
        for call in calls { end(call.id, reason: "network_lost", result: .noCarrier) }
    }

    // MARK: - Network side

    /// A call arrives from `number`: it rings (or waits, during another call).
    @discardableResult
    public func incomingCall(number: String, presentation: ModemCall.Presentation = .allowed)
        throws(ModemNetworkError) -> ModemCall
    {
        guard isRegistered else { throw ModemNetworkError(.unavailable, "the modem is not registered") }
        guard !number.isEmpty || presentation != .allowed, number.count <= 40,
            number.allSatisfy({ ModemSimulator.dialCharacters.contains($0) })
        else { throw ModemNetworkError(.invalid, "number must be 1-40 dial characters (0-9 + * # A-D)") }
        guard !calls.contains(where: { $0.state == .incoming || $0.state == .waiting }) else {
            throw ModemNetworkError(.wrongState, "a call is already ringing or waiting")
        }
        guard let id = nextCallID() else { throw ModemNetworkError(.wrongState, "no free call slot") }
        let busy = !calls.isEmpty
        let call = ModemCall(
            id: id, direction: .incoming, state: busy ? .waiting : .incoming, number: number,
            presentation: presentation)
        calls.append(call)
        events.append(.call(call, ended: nil))
        if busy {
            if ccwa == 1 {
                let shown = presentation == .allowed ? number : ""
                unsolicited([
                    "+CCWA: \"\(shown)\",\(presentation == .allowed ? call.typeOfAddress : 128),1,,\(presentation.rawValue)"
                ])
            }
        } else {
            ring()
        }
        return call
    }

    func outgoingIndex(_ id: Int?) throws(ModemNetworkError) -> Int {
        let index =
            id.map { id in calls.firstIndex { $0.id == id } }
            ?? calls.firstIndex { $0.direction == .outgoing && ($0.state == .dialing || $0.state == .alerting) }
        guard let index else { throw ModemNetworkError(.notFound, "no such call") }
        return index
    }

    /// The remote party answers the host's outgoing call.
    public func remoteAnswer(callID: Int? = nil) throws(ModemNetworkError) -> ModemCall {
        let index = try outgoingIndex(callID)
        guard calls[index].direction == .outgoing, [.dialing, .alerting].contains(calls[index].state) else {
            throw ModemNetworkError(
                .wrongState, "call \(calls[index].id) is \(calls[index].state.name), not ringing out")
        }
        let id = calls[index].id
        alertAt[id] = nil
        giveUpAt[id] = nil
        calls[index].state = .active
        changed(index)
        if colp == 1 { unsolicited(["+COLP: \"\(calls[index].number)\",\(calls[index].typeOfAddress)"]) }
        return calls[index]
    }

    /// The remote party is busy: the outgoing call ends with `BUSY`.
    public func remoteBusy(callID: Int? = nil) throws(ModemNetworkError) {
        let index = try outgoingIndex(callID)
        guard calls[index].direction == .outgoing, calls[index].state != .active, calls[index].state != .held else {
            throw ModemNetworkError(.wrongState, "call \(calls[index].id) is already connected")
        }
        end(calls[index].id, reason: "busy", result: .busy)
        promoteWaiting()
    }

    /// The remote party rejects the outgoing call: it ends with `NO CARRIER`.
    public func remoteReject(callID: Int? = nil) throws(ModemNetworkError) {
        let index = try outgoingIndex(callID)
        guard calls[index].direction == .outgoing, calls[index].state != .active, calls[index].state != .held else {
            throw ModemNetworkError(.wrongState, "call \(calls[index].id) is already connected")
        }
        end(calls[index].id, reason: "rejected", result: .noCarrier)
        promoteWaiting()
    }

    /// The remote party hangs up (any call; an unanswered incoming call stops ringing).
    public func remoteHangup(callID: Int? = nil) throws(ModemNetworkError) {
        let target = callID.flatMap { id in calls.first { $0.id == id } } ?? (callID == nil ? calls.first : nil)
        guard let target else { throw ModemNetworkError(.notFound, "no such call") }
        end(target.id, reason: "remote_hangup", result: .noCarrier)
        promoteWaiting()
    }
}
