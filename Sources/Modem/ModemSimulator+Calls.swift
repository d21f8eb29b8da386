import ATWire

extension ModemSimulator {
    package static let maxCalls = 7
    static let dialCharacters = Set("0123456789+*#ABCDabcd")
    static let dialModifiers = Set(",TtPpWw!@ Ii-().Gg")

    /// The current calls, in id order.
    package var currentCalls: [ModemCall] { telephony.calls.sorted { $0.id < $1.id } }

    func clccLine(_ call: ModemCall) -> String {
        "+CLCC: \(call.id),\(call.direction == .outgoing ? 0 : 1),\(call.state.rawValue),0,\(call.multiparty ? 1 : 0),"
            + "\"\(call.number)\",\(call.typeOfAddress)"
    }

    func nextCallID() -> Int? {
        (1...max(1, min(profile.maxCalls, ModemSimulator.maxCalls))).first { id in
            !telephony.calls.contains { $0.id == id }
        }
    }

    func changed(_ index: Int) { events.append(.call(telephony.calls[index], ended: nil)) }

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
        guard network.cfun == 1 else { return .cme(.noNetworkService) }
        guard isRegistered else { return .final(.noCarrier) }
        guard !telephony.calls.contains(where: { [.incoming, .waiting, .dialing, .alerting].contains($0.state) }) else {
            return .cme(.operationNotAllowed)
        }
        let active = telephony.calls.indices.filter { telephony.calls[$0].state == .active }
        if !active.isEmpty {
            // Dialling during a call puts it on hold first (TS 22.083), which needs no held call already.
            guard !telephony.calls.contains(where: { $0.state == .held }) else { return .cme(.operationNotAllowed) }
            for index in active {
                telephony.calls[index].state = .held
                changed(index)
            }
        }
        guard let id = nextCallID() else { return .cme(.operationNotAllowed) }
        telephony.calls.append(
            ModemCall(id: id, direction: .outgoing, state: .dialing, number: number, presentation: .allowed))
        changed(telephony.calls.count - 1)
        telephony.alertAt[id] = now + profile.alertDelayMs
        return .ok
    }

    func answer() -> Outcome {
        guard let index = telephony.calls.firstIndex(where: { $0.state == .incoming }) else {
            return .final(.noCarrier)
        }
        telephony.calls[index].state = .active
        telephony.ringAt = nil
        changed(index)
        return .ok
    }

    /// ATH and +CHUP: every call but a waiting one ends; a waiting call then rings as incoming.
    func hangUpAll(reason: String) -> Outcome {
        for call in telephony.calls where call.state != .waiting {
            end(call.id, reason: reason, result: nil)
        }
        promoteWaiting()
        return .ok
    }

    /// The partition that owns the modem died: every call ends as if the handset dropped it, so the
    /// network side sees the call end (`owner_lost`) instead of a call nobody will ever hang up.
    package func ownerLost() {
        for call in telephony.calls { end(call.id, reason: "owner_lost", result: nil) }
    }

    /// Removes a call; `result` is the unsolicited code the host gets (none for its own hang-ups).
    func end(_ id: Int, reason: String, result: ATResultCode?) {
        guard let index = telephony.calls.firstIndex(where: { $0.id == id }) else { return }
        let call = telephony.calls.remove(at: index)
        telephony.alertAt[id] = nil
        telephony.giveUpAt[id] = nil
        if call.state == .incoming { telephony.ringAt = nil }
        events.append(.call(call, ended: reason))
        if let result { unsolicitedResult(result) }
        let remaining = telephony.calls.filter { $0.state != .waiting }
        if remaining.count == 1, let only = telephony.calls.firstIndex(where: { $0.id == remaining[0].id }) {
            if telephony.calls[only].multiparty {
                telephony.calls[only].multiparty = false
                changed(only)
            }
        }
    }

    func promoteWaiting() {
        guard !telephony.calls.contains(where: { $0.state != .waiting }),
            let index = telephony.calls.firstIndex(where: { $0.state == .waiting })
        else { return }
        telephony.calls[index].state = .incoming
        changed(index)
        ring()
    }

    func ring() {
        guard let call = telephony.calls.first(where: { $0.state == .incoming }) else { return }
        var lines = [options.crc == 1 ? "+CRING: VOICE" : "RING"]
        if options.clip == 1 {
            let number = call.presentation == .allowed ? call.number : ""
            let type = call.presentation == .allowed ? call.typeOfAddress : 128
            lines.append("+CLIP: \"\(number)\",\(type),,,,\(call.presentation.rawValue)")
        }
        if options.crc == 1 || !formatter.verbose {
            unsolicited(lines)
        } else {
            unsolicitedResult(.ring)
            if lines.count > 1 { unsolicited(Array(lines.dropFirst())) }
        }
        telephony.ringAt = now + profile.ringIntervalMs
    }

    /// +CHLD (3GPP TS 27.007 §7.13, TS 22.030 §6.5.5): call hold and multiparty, one helper per mode.
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
        let ringing = telephony.calls.firstIndex { $0.state == .waiting || $0.state == .incoming }
        switch first {
        case "0": return chldReleaseHeldOrReject(ringing: ringing)
        case "1": return chldReleaseActive(target: target)
        case "2": return chldSwap(target: target, ringing: ringing)
        case "3": return chldConference()
        case "4": return chldTransfer()
        default: return .cme(.incorrectParameters)
        }
    }

    /// 0: reject the waiting or incoming call, or release every held call.
    private func chldReleaseHeldOrReject(ringing: Int?) -> Outcome {
        if let ringing {
            end(telephony.calls[ringing].id, reason: "rejected", result: nil)
        } else {
            let held = telephony.calls.filter { $0.state == .held }
            guard !held.isEmpty else { return .cme(.operationNotAllowed) }
            for call in held { end(call.id, reason: "local", result: nil) }
        }
        return .ok
    }

    /// 1x: release call x; 1: release the active calls, then accept the waiting call or retrieve the held ones.
    private func chldReleaseActive(target: Int?) -> Outcome {
        if let target {
            guard telephony.calls.contains(where: { $0.id == target }) else { return .cme(.notFound) }
            end(target, reason: "local", result: nil)
            promoteWaiting()
            return .ok
        }
        for call in telephony.calls where call.state == .active || call.state == .dialing || call.state == .alerting {
            end(call.id, reason: "local", result: nil)
        }
        if let waiting = telephony.calls.firstIndex(where: { $0.state == .waiting || $0.state == .incoming }) {
            telephony.calls[waiting].state = .active
            telephony.ringAt = nil
            changed(waiting)
        } else {
            retrieveHeld()
        }
        return .ok
    }

    /// 2x: every call but x on hold, x active (split from a multiparty call); 2: hold the active calls and
    /// accept the waiting one, or swap active and held.
    private func chldSwap(target: Int?, ringing: Int?) -> Outcome {
        if let target { return chldSplit(target: target) }
        guard !telephony.calls.contains(where: { $0.state == .dialing || $0.state == .alerting }) else {
            return .cme(.operationNotAllowed)
        }
        let active = telephony.calls.indices.filter { telephony.calls[$0].state == .active }
        let held = telephony.calls.indices.filter { telephony.calls[$0].state == .held }
        if let ringing {
            guard held.isEmpty || active.isEmpty else { return .cme(.operationNotAllowed) }
            setState(.held, of: active)
            telephony.calls[ringing].state = .active
            telephony.ringAt = nil
            changed(ringing)
        } else {
            guard !active.isEmpty || !held.isEmpty else { return .cme(.operationNotAllowed) }
            setState(.held, of: active)
            setState(.active, of: held)
        }
        return .ok
    }

    private func chldSplit(target: Int) -> Outcome {
        guard let index = telephony.calls.firstIndex(where: { $0.id == target }),
            telephony.calls[index].state == .active || telephony.calls[index].state == .held
        else { return .cme(.notFound) }
        for i in telephony.calls.indices where telephony.calls[i].state == .active && i != index {
            telephony.calls[i].state = .held
            changed(i)
        }
        if telephony.calls[index].state != .active || telephony.calls[index].multiparty {
            telephony.calls[index].state = .active
            telephony.calls[index].multiparty = false
            changed(index)
        }
        return .ok
    }

    private func setState(_ state: ModemCall.State, of indices: [Int]) {
        for index in indices {
            telephony.calls[index].state = state
            changed(index)
        }
    }

    /// 3: join the active and held calls into one multiparty call.
    private func chldConference() -> Outcome {
        let involved = telephony.calls.indices.filter {
            telephony.calls[$0].state == .active || telephony.calls[$0].state == .held
        }
        guard telephony.calls.contains(where: { $0.state == .held }),
            telephony.calls.contains(where: { $0.state == .active })
        else {
            return .cme(.operationNotAllowed)
        }
        for index in involved {
            telephony.calls[index].state = .active
            telephony.calls[index].multiparty = true
            changed(index)
        }
        return .ok
    }

    /// 4: explicit call transfer: the held call and the active (or alerting) one are connected and leave us.
    private func chldTransfer() -> Outcome {
        guard let held = telephony.calls.first(where: { $0.state == .held }),
            let other = telephony.calls.first(where: { [.active, .alerting].contains($0.state) })
        else { return .cme(.operationNotAllowed) }
        end(held.id, reason: "transferred", result: nil)
        end(other.id, reason: "transferred", result: nil)
        return .ok
    }

    func retrieveHeld() {
        for index in telephony.calls.indices where telephony.calls[index].state == .held {
            telephony.calls[index].state = .active
            changed(index)
        }
    }

    func vts(_ c: ATCommand) -> Outcome {
        guard c.form == .set else { return c.form == .test ? info("+VTS: (0-9,#,*,A-D)", .ok) : .error }
        guard let digits = c.parameter(0).string, !digits.isEmpty, digits.count <= 32,
            digits.allSatisfy({ "0123456789#*ABCDabcd".contains($0) })
        else { return .cme(.incorrectParameters) }
        guard let index = telephony.calls.firstIndex(where: { $0.state == .active }) else {
            return .cme(.operationNotAllowed)
        }
        telephony.calls[index].dtmf += digits.uppercased()
        events.append(.dtmf(callID: telephony.calls[index].id, digits: digits.uppercased()))
        return .ok
    }

    func dropCallsForNetworkLoss() {
        for call in telephony.calls { end(call.id, reason: "network_lost", result: .noCarrier) }
    }

    // MARK: - Network side

    /// A call arrives from `number`: it rings (or waits, during another call).
    @discardableResult
    package func incomingCall(number: String, presentation: ModemCall.Presentation = .allowed)
        throws(ModemNetworkError) -> ModemCall
    {
        guard isRegistered else { throw ModemNetworkError(.unavailable, "the modem is not registered") }
        guard !number.isEmpty || presentation != .allowed, number.count <= 40,
            number.allSatisfy({ ModemSimulator.dialCharacters.contains($0) })
        else {
            throw ModemNetworkError(
                .invalid, "number must be 1-40 dial characters (0-9 + * # A-D)",
                parameter: .init("number", expected: "1-40 dial characters (0-9 + * # A-D)"))
        }
        guard !telephony.calls.contains(where: { $0.state == .incoming || $0.state == .waiting }) else {
            throw ModemNetworkError(.wrongState, "a call is already ringing or waiting")
        }
        guard let id = nextCallID() else { throw ModemNetworkError(.wrongState, "no free call slot") }
        let busy = !telephony.calls.isEmpty
        let call = ModemCall(
            id: id, direction: .incoming, state: busy ? .waiting : .incoming, number: number,
            presentation: presentation)
        telephony.calls.append(call)
        events.append(.call(call, ended: nil))
        if busy {
            if options.ccwa == 1 {
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
            id.map { id in telephony.calls.firstIndex { $0.id == id } }
            ?? telephony.calls.firstIndex {
                $0.direction == .outgoing && ($0.state == .dialing || $0.state == .alerting)
            }
        guard let index else { throw ModemNetworkError(.notFound, "no such call") }
        return index
    }

    /// The remote party answers the host's outgoing call.
    package func remoteAnswer(callID: Int? = nil) throws(ModemNetworkError) -> ModemCall {
        let index = try outgoingIndex(callID)
        guard telephony.calls[index].direction == .outgoing,
            [.dialing, .alerting].contains(telephony.calls[index].state)
        else {
            throw ModemNetworkError(
                .wrongState,
                "call \(telephony.calls[index].id) is \(telephony.calls[index].state.name), not ringing out")
        }
        let id = telephony.calls[index].id
        telephony.alertAt[id] = nil
        telephony.giveUpAt[id] = nil
        telephony.calls[index].state = .active
        changed(index)
        if options.colp == 1 {
            unsolicited(["+COLP: \"\(telephony.calls[index].number)\",\(telephony.calls[index].typeOfAddress)"])
        }
        return telephony.calls[index]
    }

    /// The remote party is busy: the outgoing call ends with `BUSY`.
    package func remoteBusy(callID: Int? = nil) throws(ModemNetworkError) {
        let index = try outgoingIndex(callID)
        guard telephony.calls[index].direction == .outgoing, telephony.calls[index].state != .active,
            telephony.calls[index].state != .held
        else {
            throw ModemNetworkError(.wrongState, "call \(telephony.calls[index].id) is already connected")
        }
        end(telephony.calls[index].id, reason: "busy", result: .busy)
        promoteWaiting()
    }

    /// The remote party rejects the outgoing call: it ends with `NO CARRIER`.
    package func remoteReject(callID: Int? = nil) throws(ModemNetworkError) {
        let index = try outgoingIndex(callID)
        guard telephony.calls[index].direction == .outgoing, telephony.calls[index].state != .active,
            telephony.calls[index].state != .held
        else {
            throw ModemNetworkError(.wrongState, "call \(telephony.calls[index].id) is already connected")
        }
        end(telephony.calls[index].id, reason: "rejected", result: .noCarrier)
        promoteWaiting()
    }

    /// The remote party hangs up (any call; an unanswered incoming call stops ringing).
    package func remoteHangup(callID: Int? = nil) throws(ModemNetworkError) {
        let target =
            callID.flatMap { id in telephony.calls.first { $0.id == id } }
            ?? (callID == nil ? telephony.calls.first : nil)
        guard let target else { throw ModemNetworkError(.notFound, "no such call") }
        end(target.id, reason: "remote_hangup", result: .noCarrier)
        promoteWaiting()
    }
}
