import ControlWire
import DeviceKit
import Hypervisor
import JSON
import PlatformConfig

extension PlatformMethods {
    /// `link.open` / `link.close`: links opened and closed at run time by a control client acting as a named
    /// injector (`Protocols/control.md` §5.4). Like other injections they bypass the partitions' policy;
    /// the hub's limits (`hub.limits.runtimeLinks*`) and the naming rule still apply.
    /// The run-time link methods, one named handler each.
    var linkMethods: [ControlMethod] {
        [
            .bound(
                "link.open", "Open a messaging link between two partitions at run time", to: self,
                PlatformMethods.linkOpen),
            .bound(
                "link.close", "Close a link opened at run time (it goes once drained)", to: self,
                PlatformMethods.linkClose),
        ]
    }

    /// `link.open`.
    func linkOpen(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["name", "a", "b", "maxMessageBytes", "depth", "as"])
        let limits = self.host.configuration.hub.limits
        let name = try params.requireString("name")
        let a = try params.requireString("a")
        let b = try params.requireString("b")
        let maxMessageBytes =
            try params.optionalInt("maxMessageBytes", in: 1...Int64(limits.effectiveRuntimeLinkMaxMessageBytes))
            ?? Int64(min(LinkConfig.defaultMaxMessageBytes, limits.effectiveRuntimeLinkMaxMessageBytes))
        let depth =
            try params.optionalInt("depth", in: 1...Int64(limits.runtimeLinkMaxDepth))
            ?? Int64(min(LinkConfig.defaultDepth, limits.runtimeLinkMaxDepth))
        let peer = try self.testPeer(params)
        var actions: [Action] = []
        let outcome = self.host.platform.openLink(
            injector: peer, name: name, a: a, b: b, maxMessageBytes: Int(maxMessageBytes), depth: Int(depth),
            actions: &actions)
        self.host.perform(&actions)
        switch outcome {
        case .created(let opened), .exists(let opened):
            guard var result = self.host.platform.snapshot().link(opened.link.name).map(self.linkJSON)?.objectValue
            else { throw ControlError.internalError("link \(name) vanished") }
            if case .created = outcome { result["created"] = true } else { result["created"] = false }
            return .result(.object(result))
        case .noSuchPartition:
            throw ControlError.notFound("partition", name: self.host.platform.state(ofPartition: a) == nil ? a : b)
        case .limitReached:
            throw ControlError.limitExceeded(
                "hub.limits.runtimeLinksMax", value: Int64(limits.runtimeLinksMax), reason: "limit_reached")
        case .nameInUse:
            throw ControlError.conflict(
                "link name '\(name)' belongs to another link (or one that is closing)", reason: "name_in_use")
        case .invalid(let problem):
            throw ControlError.invalidParams(
                param: problem == .samePartition ? "b" : "name", expected: "a valid link",
                detail: problem == .samePartition
                    ? "a link cannot join \(a) to itself"
                    : "'\(name)' is not a valid name (a letter, then letters, digits, '-' or '_', at most 32)")
        case .notPermitted:
            throw ControlError.forbidden("the policy does not let \(peer) open \(name)")
        }
    }

    /// `link.close`.
    func linkClose(_ call: ControlCall) throws(ControlError) -> ControlReply {
        let params = try ControlParams(call.params, allowed: ["name", "as"])
        let name = try params.requireString("name")
        let peer = try self.testPeer(params)
        var actions: [Action] = []
        let outcome = self.host.platform.closeLink(injector: peer, link: name, actions: &actions)
        self.host.perform(&actions)
        switch outcome {
        case .closed: return .result(["name": .string(name), "state": "closed", "held": 0])
        case .closing(let held):
            return .result(["name": .string(name), "state": "closing", "held": .int(Int64(held))])
        case .configured:
            throw ControlError.conflict(
                "link \(name) is configured; only links opened at run time close", reason: "configured_link")
        case .noSuchLink: throw ControlError.notFound("link", name: name)
        }
    }
}

extension PlatformMethods {
    /// A link direction's rate budget for `link.get` / `link.list`: null when unlimited.
    static func rateLimitJSON(_ snapshot: LinkDirectionSnapshot) -> JSON {
        guard let limit = snapshot.rateLimit else { return .null }
        return [
            "messagesPerSecond": .int(Int64(limit.messagesPerSecond)),
            "bytesPerSecond": .int(Int64(limit.bytesPerSecond)),
            "burstMessages": snapshot.burstMessages.map { .uint($0) } ?? .null,
            "burstBytes": snapshot.burstBytes.map { .uint($0) } ?? .null,
            "availableMessages": snapshot.availableMessages.map { .uint($0) } ?? .null,
            "availableBytes": snapshot.availableBytes.map { .uint($0) } ?? .null,
        ]
    }
}
