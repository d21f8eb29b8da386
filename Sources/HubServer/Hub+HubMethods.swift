import ControlWire
import DeviceKit
import EventLoop
import GuestWire
import HubSystem
import JSON
import PlatformConfig
import PlatformConfigLoader
import SoftwareCommands

extension Hub {
    /// `hub.*`: identity, authentication, configuration in effect, limits, shutdown (`Protocols/control.md` §5).
    func registerHubMethods() {
        router.register(hubMethods)
    }

    /// The `hub.*` methods, one named handler each.
    var hubMethods: [ControlMethod] {
        [
            .bound(
                "hub.authenticate", "Present the control token", allowedUnauthenticated: true, to: self,
                Hub.hubAuthenticate),
            .bound("hub.info", "Version, uptime, platform and endpoints", to: self, Hub.hubInfo),
            .bound("hub.config", "The configuration in effect, secrets redacted", to: self, Hub.hubConfig),
            .bound("hub.limits", "Every limit in force", to: self, Hub.hubLimits),
            .bound("hub.methods", "Every method this hub serves", to: self, Hub.hubMethodList),
            .bound("hub.shutdown", "Stop the hub gracefully", to: self, Hub.hubShutdown),
        ]
    }

    /// `hub.authenticate`.
    func hubAuthenticate(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["token"])
        let token = try params.requireString("token")
        // Only an endpoint that greets with "auth":"token" checks it; elsewhere the call succeeds (control.md §9.1).
        guard let expected = self.configuration.hub.controlToken, call.session?.requiresToken != false else {
            return .result(["authenticated": true])
        }
        guard constantTimeEqual(Array(token.utf8), Array(expected.utf8)) else {
            // Wrong tokens are counted; the last one allowed (`controlMaxAuthFailures`) ends the
            // connection: the answer goes out first, then the hang-up.
            call.reply(.error(.unauthorized("wrong token", reason: "bad_token")))
            if let session = call.session, session.noteAuthFailure() {
                self.controlCounters.closedForAuthFailures += 1
                session.close(reason: "wrong token", flush: true)
            }
            return .deferred
        }
        call.session?.markAuthenticated()
        return .result(["authenticated": true])
    }

    /// `hub.info`. Monitors call it in tight loops: what cannot change while the hub runs is serialised once, and
    /// a call writes only the uptime, the last sequence number and the loop's figures into that text.
    func hubInfo(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        let platform = configuration.platform.name
        let template = fixedInfo.flatMap { $0.platform == platform ? $0.template : nil } ?? makeInfoTemplate()
        let uptimeMs = Int64((MonotonicClock.nanoseconds() - startedMonotonicNanos) / 1_000_000)
        var out: [UInt8] = []
        out.reserveCapacity(template.fixedByteCount + 200)
        template.write(into: &out) { member, out in
            switch member {  // the open members in the answer's order: uptimeMs, lastSeq, loop
            case 0: JSON.writeInteger(uptimeMs, into: &out)
            case 1: JSON.uint(events.log.lastSeq).write(into: &out)
            default: writeLoopJSON(into: &out)
            }
        }
        return .encodedResult(out)
    }

    /// `hub.config`.
    func hubConfig(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        return .result(["config": self.configurationTree])
    }

    /// `hub.limits`.
    func hubLimits(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        return .result(self.limitsJSON())
    }

    /// `hub.methods`.
    func hubMethodList(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        return .result(
            .array(
                self.router.methodNames.map { name in
                    ["name": .string(name), "summary": .string(self.router.methods[name]!.summary)]
                }))
    }

    /// `hub.shutdown`.
    func hubShutdown(_ call: ControlCall) throws(ControlError) -> ControlReply {
        _ = try ControlParams(call.params, allowed: [])
        call.reply(.result(["stopping": true]))
        self.shutdown(reason: "hub.shutdown from control client \(call.session?.remote ?? "?")")
        return .deferred
    }

    /// `hub.info`'s answer (`Protocols/control.md`) as a template whose open members are uptimeMs, lastSeq and loop.
    private func makeInfoTemplate() -> JSONTemplate {
        // The limits the hub set at start and its listeners keep their reserve under (`hub.admission` reads the
        // live ones): a getrlimit per call was a tenth of a tight monitoring loop's cost.
        let answer: JSONObject = [
            "server": "hubd", "version": .string(Hub.version), "protocol": .int(ControlProtocol.version),
            "platform": .string(configuration.platform.name), "pid": .int(Int64(CurrentProcess.id)),
            "startedAtUnixNs": .uint(startedWallNanos), "uptimeMs": .null,
            "endpoints": [
                "control": .array(boundControlEndpoints.map { .string($0.description) }),
                "guest": .array(boundGuestEndpoints.map { .string($0.description) }),
            ],
            "lastSeq": .null, "scheduling": scheduling.json, "loop": .null,
            "openFiles": [
                "soft": .uint(openFileLimit.soft), "hard": .uint(openFileLimit.hard),
                "softAtStart": .uint(openFileLimit.softBefore),
            ],
        ]
        let template = JSONTemplate(answer, open: ["uptimeMs", "lastSeq", "loop"])
        fixedInfo = (configuration.platform.name, template)
        return template
    }

    /// Every configured limit (`hub.limits` in the configuration), with its range, plus the fixed
    /// protocol limits of the control and guest codecs.
    func limitsJSON() -> JSON {
        var result: JSONObject = [
            "limits": .object(ConfigJSON.limits(configuration.hub)),
            "control": ["maxDepth": .int(Int64(JSON.defaultMaxDepth))],
            "config": [
                "maxBytes": .int(Int64(PlatformConfiguration.maxYAMLBytes)),
                "maxAliasNodes": .int(Int64(PlatformConfiguration.maxYAMLAliasNodes)),
                "maxDepth": .int(Int64(PlatformConfiguration.maxYAMLDepth)),
            ],
            "guest": [
                "maxNameBytes": .int(Int64(GuestLimits.default.maxNameBytes)),
                "maxRegionRead": .int(Int64(GuestLimits.default.maxRegionRead)),
                "deliveriesPerPass": .int(Int64(deliveryBudget)),
            ],
        ]
        for device in devices { result[device.familyName] = device.limitsJSON }
        result["software"] = SoftwareMethods.limitsJSON(configuration.hub.software)
        return .object(result)
    }
}
