import PlatformConfig
import YAML

/// Turns a composed YAML tree into a `PlatformConfiguration`, checking shapes and types only;
/// ranges and cross-references are `ConfigValidator`'s job so Swift-built models get the same checks.
///
/// Fields that fail to decode get neutral placeholders so decoding (and validation) can continue.
/// Decoding reads no file: a secret named by file is recorded here and read afterwards
/// (`resolveSecretFiles(relativeTo:reader:)`).
struct ConfigDecoder {
    let reader: YAMLReader

    func decode(root: Node) -> PlatformConfiguration {
        var config = PlatformConfiguration(platform: PlatformInfo(name: ""), partitions: [])
        guard
            let top = reader.mapping(
                root, at: "",
                allowed: [
                    "platform", "hub", "partitions", "links", "regions", "devices", "management", "power", "policy",
                ])
        else { return config }
        if let node = top.required("platform") { config.platform = platformInfo(node, top.path("platform")) }
        if let node = top.optional("hub") { config.hub = hub(node, top.path("hub")) }
        if let node = top.required("partitions") {
            config.partitions = list(node, top.path("partitions"), Self.placeholderPartition, partition)
        }
        if let node = top.optional("links") {
            config.links = list(node, top.path("links"), LinkConfig(name: "", a: "", b: ""), link)
        }
        if let node = top.optional("regions") {
            config.regions = list(
                node, top.path("regions"), RegionConfig(name: "", sizeBytes: 4096, grants: []), region)
        }
        if let node = top.optional("devices") { config.devices = devices(node, top.path("devices")) }
        if let node = top.optional("management") { config.management = management(node, top.path("management")) }
        if let node = top.optional("power") { config.power = power(node, top.path("power")) }
        if let node = top.optional("policy") { config.policy = policy(node, top.path("policy")) }
        return config
    }

    /// Elements that fail to decode become `placeholder`, so indexes (and thus paths) stay those of the file.
    private func list<T>(_ node: Node, _ path: String, _ placeholder: T, _ decode: (Node, String) -> T?) -> [T] {
        (reader.sequence(node, at: path) ?? []).map { decode($0.node, $0.path) ?? placeholder }
    }

    private static let placeholderEndpoint = Endpoint.unix(path: "?")
    private static let placeholderPartition = PartitionConfig(
        name: "", schedulingClass: .fairShare, priority: 0, memoryBytes: PartitionConfig.memoryRange.lowerBound,
        secret: "?")

    /// A VLAN id as written. A value past `UInt16` is reported as written (clamping it made the range check
    /// quote 65535 for, say, 70000); the range itself is `ConfigValidator`'s.
    private func vlanID(_ value: Int, _ path: String, _ node: Node?) -> UInt16 {
        guard let vid = UInt16(exactly: value) else {
            reader.report(
                path, "\(value) is outside \(EthernetVLAN.vidRange.lowerBound)...\(EthernetVLAN.vidRange.upperBound)",
                at: node)
            return 0
        }
        return vid
    }

    private func platformInfo(_ node: Node, _ path: String) -> PlatformInfo {
        var info = PlatformInfo(name: "")
        guard let fields = reader.mapping(node, at: path, allowed: ["name", "description"]) else { return info }
        info.name = fields.readRequired("name", reader.string) ?? ""
        info.description = fields.read("description", reader.string) ?? ""
        return info
    }

    private func hub(_ node: Node, _ path: String) -> HubSettings {
        var hub = HubSettings()
        guard
            let fields = reader.mapping(
                node, at: path,
                allowed: [
                    "controlEndpoints", "controlToken", "guestEndpoints", "handshakeTimeoutMs", "limits",
                    "realTimePriority", "stateDirectory", "httpEndpoints", "httpToken", "software",
                ])
        else { return hub }
        if let node = fields.values["controlEndpoints"] {
            hub.controlEndpoints = list(
                node, fields.path("controlEndpoints"), Self.placeholderEndpoint, reader.endpoint)
        }
        hub.controlToken = fields.read("controlToken", reader.string)
        if let node = fields.values["guestEndpoints"] {
            hub.guestEndpoints = list(node, fields.path("guestEndpoints"), Self.placeholderEndpoint, reader.endpoint)
        }
        hub.handshakeTimeoutMs = fields.read("handshakeTimeoutMs", reader.int) ?? hub.handshakeTimeoutMs
        if let node = fields.optional("limits") { hub.limits = limits(node, fields.path("limits")) }
        hub.realTimePriority = fields.read("realTimePriority", reader.int) ?? hub.realTimePriority
        hub.stateDirectory = fields.read("stateDirectory", reader.string)
        if let node = fields.values["httpEndpoints"] {
            hub.httpEndpoints = list(node, fields.path("httpEndpoints"), Self.placeholderEndpoint, reader.endpoint)
        }
        hub.httpToken = fields.read("httpToken", reader.string)
        if let node = fields.optional("software") { hub.software = software(node, fields.path("software")) }
        return hub
    }

    /// `power` (`Protocols/power.md` §2): ranges are `PowerConfig.validationIssues`'s; NaN and infinities are
    /// refused by the number reader.
    private func power(_ node: Node, _ path: String) -> PowerConfig {
        var power = PowerConfig()
        guard
            let fields = reader.mapping(
                node, at: path,
                allowed: ["suspendAfterMs", "timeScale", "battery", "platformDrawMw", "partitionDrawMw"])
        else { return power }
        power.suspendAfterMs = fields.read("suspendAfterMs", reader.int) ?? power.suspendAfterMs
        power.timeScale = fields.read("timeScale", reader.number) ?? power.timeScale
        if let node = fields.optional("battery"),
            let battery = reader.mapping(
                node, at: fields.path("battery"), allowed: ["capacityMwh", "levelPercent", "chargeMw", "charging"])
        {
            power.capacityMwh = battery.read("capacityMwh", reader.number) ?? power.capacityMwh
            power.levelPercent = battery.read("levelPercent", reader.number) ?? power.levelPercent
            power.chargeMw = battery.read("chargeMw", reader.number) ?? power.chargeMw
            power.charging = battery.read("charging", reader.bool) ?? power.charging
        }
        if let node = fields.optional("platformDrawMw"),
            let draw = reader.mapping(node, at: fields.path("platformDrawMw"), allowed: ["on", "idle", "suspend"])
        {
            power.platformDraw.on = draw.read("on", reader.number) ?? power.platformDraw.on
            power.platformDraw.idle = draw.read("idle", reader.number) ?? power.platformDraw.idle
            power.platformDraw.suspend = draw.read("suspend", reader.number) ?? power.platformDraw.suspend
        }
        if let node = fields.optional("partitionDrawMw"),
            let entries = reader.mapping(node, at: fields.path("partitionDrawMw"), allowed: nil)
        {
            for key in entries.keys {
                guard let node = entries.values[key] else { continue }
                let draw = stateDraw(node, entries.path(key), base: power.defaultDraw)
                if key == "default" {
                    power.defaultDraw = draw
                } else {
                    power.partitions.append(PowerConfig.PartitionDraw(partition: key, draw: draw))
                }
            }
        }
        return power
    }

    private func stateDraw(_ node: Node, _ path: String, base: PowerConfig.StateDraw) -> PowerConfig.StateDraw {
        var draw = base
        guard let fields = reader.mapping(node, at: path, allowed: ["active", "idle", "suspended", "off"]) else {
            return draw
        }
        draw.active = fields.read("active", reader.number) ?? draw.active
        draw.idle = fields.read("idle", reader.number) ?? draw.idle
        draw.suspended = fields.read("suspended", reader.number) ?? draw.suspended
        draw.off = fields.read("off", reader.number) ?? draw.off
        return draw
    }

    private func software(_ node: Node, _ path: String) -> SoftwareSettings {
        var software = SoftwareSettings()
        guard
            let fields = reader.mapping(
                node, at: path,
                allowed: [
                    "probationMs", "maxStartAttempts", "maxManifestBytes", "maxImageBytes", "maxImageFiles",
                    "testHooks",
                ])
        else { return software }
        software.probationMs = fields.read("probationMs", reader.int) ?? software.probationMs
        software.maxStartAttempts = fields.read("maxStartAttempts", reader.int) ?? software.maxStartAttempts
        software.maxManifestBytes = fields.read("maxManifestBytes", reader.intSize) ?? software.maxManifestBytes
        software.maxImageBytes = fields.read("maxImageBytes", reader.intSize) ?? software.maxImageBytes
        software.maxImageFiles = fields.read("maxImageFiles", reader.int) ?? software.maxImageFiles
        software.testHooks = fields.read("testHooks", reader.bool) ?? software.testHooks
        return software
    }

    private func limits(_ node: Node, _ path: String) -> Limits {
        var limits = Limits()
        guard let fields = reader.mapping(node, at: path, allowed: Limits.fields.map(\.key)) else { return limits }
        for field in Limits.fields {
            let decode = field.key.hasSuffix("Bytes") ? reader.intSize : reader.int
            if let value = fields.read(field.key, decode) { field.assign(value, in: &limits) }
        }
        return limits
    }

    private func partition(_ node: Node, _ path: String) -> PartitionConfig? {
        guard
            let fields = reader.mapping(
                node, at: path,
                allowed: [
                    "name", "class", "priority", "weight", "memoryBytes", "secret", "secretFile", "interruptLines",
                    "mayInterrupt", "mayMessage", "mayOpenLinks", "devices", "restart", "allowTakeover", "heartbeatMs",
                    "launch", "mayManage", "maySuspend", "mayActivatePolicy",
                ])
        else { return nil }
        var partition = PartitionConfig(
            name: fields.readRequired("name", reader.string) ?? "",
            schedulingClass: fields.readRequired("class") { reader.choice($0, at: $1, as: SchedulingClass.self) }
                ?? .fairShare,
            priority: fields.readRequired("priority", reader.int) ?? 0,
            memoryBytes: fields.readRequired("memoryBytes", reader.size) ?? PartitionConfig.memoryRange.lowerBound,
            secret: "")
        partition.weight = fields.read("weight", reader.int) ?? partition.weight
        partition.interruptLines = fields.read("interruptLines", reader.int) ?? partition.interruptLines
        partition.mayInterrupt = fields.read("mayInterrupt", reader.stringList) ?? []
        partition.mayMessage = fields.read("mayMessage", reader.stringList) ?? []
        if let node = fields.optional("devices") {
            partition.devices = list(
                node, fields.path("devices"), DeviceGrant(device: "", access: .shared), deviceGrant)
        }
        if let node = fields.optional("restart") { partition.restart = restart(node, fields.path("restart")) }
        partition.allowTakeover = fields.read("allowTakeover", reader.bool) ?? false
        partition.mayOpenLinks = fields.read("mayOpenLinks", reader.bool) ?? false
        partition.mayManage = fields.read("mayManage", reader.bool) ?? false
        partition.maySuspend = fields.read("maySuspend", reader.stringList) ?? []
        partition.mayActivatePolicy = fields.read("mayActivatePolicy", reader.bool) ?? false
        partition.heartbeatMs = fields.read("heartbeatMs", reader.int)
        if let node = fields.optional("launch") { partition.launch = launch(node, fields.path("launch")) }
        readSecret(fields, into: &partition)
        return partition
    }

    /// `secret` inline, or `secretFile`, read after decoding but still at load, so a missing file fails at load
    /// rather than at first login.
    private func readSecret(_ fields: YAMLReader.Fields, into partition: inout PartitionConfig) {
        let inline = fields.optional("secret")
        let file = fields.optional("secretFile")
        switch (inline, file) {
        case (nil, nil):
            reader.report(fields.path("secret"), "required key is missing (give secret or secretFile)", at: fields.node)
            partition.secret = "?"
        case (.some, .some):
            reader.report(fields.path("secretFile"), "cannot be combined with secret", at: file)
            partition.secret = "?"
        case (let node?, nil):
            partition.secret = reader.string(node, at: fields.path("secret")) ?? "?"
        case (nil, let node?):
            guard let name = reader.string(node, at: fields.path("secretFile")) else {
                partition.secret = "?"
                return
            }
            partition.secretFile = name
            // The placeholder stays if the file cannot be read.
            partition.secret = "?"
            reader.deferCheck(fields.path("secretFile"), at: node)
        }
    }

    func deviceGrant(_ node: Node, _ path: String) -> DeviceGrant? {
        guard let fields = reader.mapping(node, at: path, allowed: ["device", "access"]) else { return nil }
        let device = fields.readRequired("device", reader.string)
        let access = fields.readRequired("access") { reader.choice($0, at: $1, as: DeviceAccess.self) }
        return DeviceGrant(device: device ?? "", access: access ?? .shared)
    }

    private func launch(_ node: Node, _ path: String) -> LaunchConfig? {
        guard
            let fields = reader.mapping(
                node, at: path,
                allowed: [
                    "command", "qemu", "environment", "workingDirectory", "logFile", "logFileMaxBytes", "logRingBytes",
                    "attachTimeoutMs", "autoStart",
                ])
        else { return nil }
        var launch = LaunchConfig(command: fields.read("command", reader.stringList) ?? [])
        if let node = fields.optional("qemu") { launch.qemu = qemu(node, fields.path("qemu")) }
        if launch.command.isEmpty && launch.qemu == nil {
            reader.report(fields.path("command"), "required key is missing (give command or qemu)", at: fields.node)
        }
        launch.environment = fields.read("environment", reader.stringList) ?? []
        launch.workingDirectory = fields.read("workingDirectory", reader.string)
        launch.logFile = fields.read("logFile", reader.string)
        launch.logFileMaxBytes = fields.read("logFileMaxBytes", reader.intSize) ?? launch.logFileMaxBytes
        launch.logRingBytes = fields.read("logRingBytes", reader.intSize) ?? launch.logRingBytes
        launch.attachTimeoutMs = fields.read("attachTimeoutMs", reader.int) ?? launch.attachTimeoutMs
        launch.autoStart = fields.read("autoStart", reader.bool) ?? launch.autoStart
        return launch
    }

    private func qemu(_ node: Node, _ path: String) -> QemuLaunch? {
        guard
            let fields = reader.mapping(
                node, at: path,
                allowed: [
                    "binary", "kernel", "initrd", "append", "memoryMiB", "nic", "mac", "serial", "extraArguments",
                ])
        else { return nil }
        var qemu = QemuLaunch(
            kernel: fields.readRequired("kernel", reader.string) ?? "",
            nic: fields.readRequired("nic", reader.string) ?? "")
        qemu.binary = fields.read("binary", reader.string) ?? qemu.binary
        qemu.initrd = fields.read("initrd", reader.string)
        qemu.append = fields.read("append", reader.string) ?? qemu.append
        qemu.memoryMiB = fields.read("memoryMiB", reader.int) ?? qemu.memoryMiB
        qemu.mac = fields.read("mac", reader.string)
        qemu.serial = fields.read("serial") { reader.choice($0, at: $1, as: QemuLaunch.Serial.self) } ?? qemu.serial
        qemu.extraArguments = fields.read("extraArguments", reader.stringList) ?? []
        return qemu
    }

    private func restart(_ node: Node, _ path: String) -> RestartPolicy {
        var policy = RestartPolicy()
        guard
            let fields = reader.mapping(
                node, at: path, allowed: ["mode", "maxRestarts", "windowSeconds", "backoffInitialMs", "backoffMaxMs"])
        else { return policy }
        policy.mode = fields.read("mode") { reader.choice($0, at: $1, as: RestartPolicy.Mode.self) } ?? policy.mode
        policy.maxRestarts = fields.read("maxRestarts", reader.int) ?? policy.maxRestarts
        policy.windowSeconds = fields.read("windowSeconds", reader.int) ?? policy.windowSeconds
        policy.backoffInitialMs = fields.read("backoffInitialMs", reader.int) ?? policy.backoffInitialMs
        policy.backoffMaxMs = fields.read("backoffMaxMs", reader.int) ?? policy.backoffMaxMs
        return policy
    }

    private func link(_ node: Node, _ path: String) -> LinkConfig? {
        guard
            let fields = reader.mapping(
                node, at: path, allowed: ["name", "a", "b", "maxMessageBytes", "depth", "rateLimit"])
        else { return nil }
        var link = LinkConfig(
            name: fields.readRequired("name", reader.string) ?? "", a: fields.readRequired("a", reader.string) ?? "",
            b: fields.readRequired("b", reader.string) ?? "")
        link.maxMessageBytes = fields.read("maxMessageBytes", reader.intSize) ?? link.maxMessageBytes
        link.depth = fields.read("depth", reader.int) ?? link.depth
        if let node = fields.optional("rateLimit") { link.rateLimit = rateLimit(node, fields.path("rateLimit")) }
        return link
    }

    /// A link's `rateLimit` (`Deploy/config-reference.md`, links): ranges are checked by the validator.
    private func rateLimit(_ node: Node, _ path: String) -> LinkRateLimit? {
        guard
            let fields = reader.mapping(
                node, at: path, allowed: ["messagesPerSecond", "bytesPerSecond", "burstMessages", "burstBytes"])
        else { return nil }
        return LinkRateLimit(
            messagesPerSecond: fields.read("messagesPerSecond", reader.int) ?? 0,
            bytesPerSecond: fields.read("bytesPerSecond", reader.intSize) ?? 0,
            burstMessages: fields.read("burstMessages", reader.int),
            burstBytes: fields.read("burstBytes", reader.intSize))
    }

    private func region(_ node: Node, _ path: String) -> RegionConfig? {
        guard
            let fields = reader.mapping(node, at: path, allowed: ["name", "sizeBytes", "grants", "doorbellLine"])
        else { return nil }
        var region = RegionConfig(
            name: fields.readRequired("name", reader.string) ?? "",
            sizeBytes: fields.readRequired("sizeBytes", reader.size) ?? RegionConfig.sizeRange.lowerBound,
            grants: [])
        if let node = fields.required("grants") {
            region.grants = list(
                node, fields.path("grants"), RegionGrant(partition: "", access: .readOnly), regionGrant)
        }
        region.doorbellLine = fields.read("doorbellLine", reader.int)
        return region
    }

    private func regionGrant(_ node: Node, _ path: String) -> RegionGrant? {
        guard let fields = reader.mapping(node, at: path, allowed: ["partition", "access"]) else { return nil }
        let partition = fields.readRequired("partition", reader.string)
        let access = fields.readRequired("access") { reader.choice($0, at: $1, as: RegionAccess.self) }
        return RegionGrant(partition: partition ?? "", access: access ?? .readOnly)
    }

    private func devices(_ node: Node, _ path: String) -> DevicesConfig {
        var devices = DevicesConfig()
        guard let fields = reader.mapping(node, at: path, allowed: ["ethernet", "modems", "framebuffers"]) else {
            return devices
        }
        if let node = fields.optional("ethernet") {
            devices.ethernet = list(node, fields.path("ethernet"), SegmentConfig(name: ""), segment)
        }
        if let node = fields.optional("modems") {
            devices.modems = list(node, fields.path("modems"), ModemConfig(name: "", owner: ""), modem)
        }
        if let node = fields.optional("framebuffers") {
            devices.framebuffers = list(
                node, fields.path("framebuffers"), FramebufferConfig(name: "", width: 1, height: 1), framebuffer)
        }
        return devices
    }

    private func segment(_ node: Node, _ path: String) -> SegmentConfig? {
        guard let fields = reader.mapping(node, at: path, allowed: ["name", "mtu", "macAgeingSeconds", "ports"]) else {
            return nil
        }
        var segment = SegmentConfig(name: fields.readRequired("name", reader.string) ?? "")
        segment.mtu = fields.read("mtu", reader.int) ?? segment.mtu
        segment.macAgeingSeconds = fields.read("macAgeingSeconds", reader.int) ?? segment.macAgeingSeconds
        if let node = fields.optional("ports") {
            segment.ports = list(node, fields.path("ports"), EthernetPortConfig(name: ""), port)
        }
        return segment
    }

    private static let attachmentKeys = ["stream", "vde", "dgram", "tap", "vxlan"]

    private func port(_ node: Node, _ path: String) -> EthernetPortConfig? {
        guard
            let fields = reader.mapping(
                node, at: path,
                allowed: [
                    "name", "partition", "vlan", "trunk", "isolated", "queueFrames", "queueBytes", "impairment", "mac",
                    "persistent",
                ] + Self.attachmentKeys)
        else { return nil }
        var port = EthernetPortConfig(
            name: fields.readRequired("name", reader.string) ?? "", partition: fields.read("partition", reader.string))
        let given = (["partition"] + Self.attachmentKeys).filter { fields.optional($0) != nil }
        if given.count > 1 {
            reader.report(
                fields.path(given[1]), "a port is attached to one thing; it also has \(given[0])",
                at: fields.optional(given[1]))
        }
        if let endpoint = fields.read("stream", reader.endpoint) { port.attachment = .stream(endpoint) }
        if let endpoint = fields.read("vde", reader.endpoint) { port.attachment = .vde(endpoint) }
        if let name = fields.read("tap", reader.string) { port.attachment = .tap(interface: name) }
        if let node = fields.optional("dgram") {
            guard let dgram = reader.mapping(node, at: fields.path("dgram"), allowed: ["local", "remote"]) else {
                return port
            }
            if let local = dgram.readRequired("local", udpAddress) {
                port.attachment = .dgram(local: local, remote: dgram.read("remote", udpAddress))
            }
        }
        if let node = fields.optional("vxlan") {
            guard let vxlan = reader.mapping(node, at: fields.path("vxlan"), allowed: ["local", "vni", "remotes"])
            else { return port }
            let local = vxlan.readRequired("local", udpAddress)
            let vni = vxlan.readRequired("vni", reader.int)
            var remotes: [UDPAddress] = []
            if let node = vxlan.optional("remotes") {
                remotes = list(node, vxlan.path("remotes"), UDPAddress(host: "?", port: 0), udpAddress)
            }
            if let local, let vni {
                port.attachment = .vxlan(local: local, vni: UInt32(clamping: max(0, vni)), remotes: remotes)
                if vni < 0 || vni > 0xFF_FFFF { reader.report(vxlan.path("vni"), "a VNI is in 0...16777215", at: node) }
            }
        }
        if fields.optional("vlan") != nil && fields.optional("trunk") != nil {
            reader.report(fields.path("trunk"), "cannot be combined with vlan", at: fields.optional("trunk"))
        }
        if let vid = fields.read("vlan", reader.int) {
            port.vlan = .access(vlanID(vid, fields.path("vlan"), fields.optional("vlan")))
        }
        if let node = fields.optional("trunk") {
            if let trunk = reader.mapping(node, at: fields.path("trunk"), allowed: ["allowed", "native"]) {
                let allowed = trunk.read("allowed", intList) ?? []
                let native = trunk.read("native", reader.int)
                port.vlan = .trunk(
                    allowed: allowed.enumerated().map { index, vid in
                        vlanID(vid, YAMLReader.element(trunk.path("allowed"), index), trunk.optional("allowed"))
                    },
                    native: native.map { vlanID($0, trunk.path("native"), trunk.optional("native")) })
            }
        }
        port.isolated = fields.read("isolated", reader.bool) ?? false
        port.queueFrames = fields.read("queueFrames", reader.int) ?? port.queueFrames
        if let size = fields.read("queueBytes", reader.intSize) { port.queueBytes = size }
        port.mac = fields.read("mac", reader.string)
        port.persistent = fields.read("persistent", reader.bool) ?? false
        port.impairment = fields.read("impairment", reader.string)
        return port
    }

    private func udpAddress(_ node: Node, _ path: String) -> UDPAddress? {
        guard let text = reader.string(node, at: path) else { return nil }
        do {
            return try UDPAddress(parsing: text)
        } catch {
            reader.report(path, error.description, at: node)
            return nil
        }
    }

    private func intList(_ node: Node, _ path: String) -> [Int]? {
        guard let items = reader.sequence(node, at: path) else { return nil }
        return items.compactMap { reader.int($0.node, at: $0.path) }
    }

    private func modem(_ node: Node, _ path: String) -> ModemConfig? {
        guard
            let fields = reader.mapping(
                node, at: path,
                allowed: [
                    "name", "owner", "pin", "backend", "listen", "pty", "shared", "interruptLine", "maxLineBytes",
                    "number", "operator", "limits", "echo",
                ])
        else {
            return nil
        }
        var modem = ModemConfig(
            name: fields.readRequired("name", reader.string) ?? "",
            owner: fields.readRequired("owner", reader.string) ?? "")
        modem.pin = fields.read("pin", reader.string)
        if let node = fields.values["backend"] {
            if let (backend, token) = modemBackend(node, fields.path("backend")) {
                modem.backend = backend
                modem.backendToken = token
            }
        }
        if let node = fields.values["listen"] {
            modem.listen = list(node, fields.path("listen"), Self.placeholderEndpoint, reader.endpoint)
        }
        modem.pty = fields.read("pty", reader.string)
        modem.shared = fields.read("shared", reader.bool) ?? false
        modem.interruptLine = fields.read("interruptLine", reader.int)
        modem.maxLineBytes = fields.read("maxLineBytes", reader.int) ?? modem.maxLineBytes
        modem.number = fields.read("number", reader.string) ?? modem.number
        if let node = fields.values["operator"],
            let op = reader.mapping(node, at: fields.path("operator"), allowed: ["name", "shortName", "numeric"])
        {
            modem.operatorName = op.read("name", reader.string) ?? modem.operatorName
            modem.operatorShortName = op.read("shortName", reader.string) ?? modem.operatorShortName
            modem.operatorNumeric = op.read("numeric", reader.string) ?? modem.operatorNumeric
        }
        if let node = fields.values["limits"],
            let limits = reader.mapping(
                node, at: fields.path("limits"),
                allowed: [
                    "smsCapacity", "maxCalls", "ringIntervalMs", "traceLines", "backendCommandTimeoutMs",
                    "backendKeepaliveMs", "backendBacklogBytes",
                ])
        {
            modem.smsCapacity = limits.read("smsCapacity", reader.int) ?? modem.smsCapacity
            modem.maxCalls = limits.read("maxCalls", reader.int) ?? modem.maxCalls
            modem.ringIntervalMs = limits.read("ringIntervalMs", reader.int) ?? modem.ringIntervalMs
            modem.traceLines = limits.read("traceLines", reader.int) ?? modem.traceLines
            modem.backendCommandTimeoutMs =
                limits.read("backendCommandTimeoutMs", reader.int) ?? modem.backendCommandTimeoutMs
            modem.backendKeepaliveMs = limits.read("backendKeepaliveMs", reader.int) ?? modem.backendKeepaliveMs
            modem.backendBacklogBytes = limits.read("backendBacklogBytes", reader.int) ?? modem.backendBacklogBytes
        }
        if let echo = fields.read("echo", reader.string) {
            if let scope = ModemEchoScope(rawValue: echo) {
                modem.echo = scope
            } else {
                reader.report(
                    fields.path("echo"), "expected all or opener, found '\(echo)'", at: fields.values["echo"]!)
            }
        }
        return modem
    }

    /// `builtin`, or a mapping `{remote: ENDPOINT}` / `{listen: ENDPOINT}` with an optional `token`.
    private func modemBackend(_ node: Node, _ path: String) -> (ModemBackend, String?)? {
        if case .scalar(let scalar) = node {
            if scalar.string == "builtin" { return (.builtin, nil) }
            reader.report(
                path, "expected builtin, {remote: ENDPOINT} or {listen: ENDPOINT}, found \(YAMLReader.kind(of: node))",
                at: node)
            return nil
        }
        guard let fields = reader.mapping(node, at: path, allowed: ["remote", "listen", "token"]) else { return nil }
        let token = fields.read("token", reader.string)
        let remote = fields.read("remote", reader.endpoint)
        let listen = fields.read("listen", reader.endpoint)
        guard (fields.values["remote"] == nil) != (fields.values["listen"] == nil) else {
            reader.report(path, "expected exactly one of remote and listen", at: node)
            return nil
        }
        if let remote { return (.remote(remote), token) }
        if let listen { return (.listen(listen), token) }
        return nil  // the endpoint's own error is reported
    }

    private func framebuffer(_ node: Node, _ path: String) -> FramebufferConfig? {
        guard
            let fields = reader.mapping(
                node, at: path,
                allowed: [
                    "name", "width", "height", "bitsPerPixel", "rfbEndpoints", "password", "passwordFile", "layout",
                    "defaultFocus", "preemptors", "frameDoneLine", "inputLine", "refreshHz", "maxViewers",
                    "maxCutTextBytes",
                ])
        else { return nil }
        var framebuffer = FramebufferConfig(
            name: fields.readRequired("name", reader.string) ?? "",
            width: fields.readRequired("width", reader.int) ?? 1,
            height: fields.readRequired("height", reader.int) ?? 1)
        framebuffer.bitsPerPixel = fields.read("bitsPerPixel", reader.int) ?? framebuffer.bitsPerPixel
        if let node = fields.optional("rfbEndpoints") {
            framebuffer.rfbEndpoints = list(
                node, fields.path("rfbEndpoints"), Self.placeholderEndpoint, reader.endpoint)
        }
        switch (fields.optional("password"), fields.optional("passwordFile")) {
        case (.some, .some(let file)):
            reader.report(fields.path("passwordFile"), "cannot be combined with password", at: file)
        case (let node?, nil):
            framebuffer.password = reader.string(node, at: fields.path("password"))
        case (nil, let node?):
            if let name = reader.string(node, at: fields.path("passwordFile")) {
                framebuffer.passwordFile = name
                reader.deferCheck(fields.path("passwordFile"), at: node)
            }
        case (nil, nil):
            break
        }
        if let node = fields.optional("layout") {
            framebuffer.layout = list(
                node, fields.path("layout"),
                ScreenRegionConfig(name: "", owner: "", x: 0, y: 0, width: 0, height: 0), screenRegion)
        }
        framebuffer.defaultFocus = fields.read("defaultFocus", reader.string)
        framebuffer.preemptors = fields.read("preemptors", reader.stringList) ?? []
        framebuffer.frameDoneLine = fields.read("frameDoneLine", reader.int)
        framebuffer.inputLine = fields.read("inputLine", reader.int)
        framebuffer.refreshHz = fields.read("refreshHz", reader.int) ?? framebuffer.refreshHz
        framebuffer.maxViewers = fields.read("maxViewers", reader.int) ?? framebuffer.maxViewers
        framebuffer.maxCutTextBytes = fields.read("maxCutTextBytes", reader.intSize) ?? framebuffer.maxCutTextBytes
        return framebuffer
    }

    private func screenRegion(_ node: Node, _ path: String) -> ScreenRegionConfig? {
        guard
            let fields = reader.mapping(
                node, at: path, allowed: ["name", "owner", "x", "y", "width", "height", "z"])
        else { return nil }
        return ScreenRegionConfig(
            name: fields.readRequired("name", reader.string) ?? "",
            owner: fields.readRequired("owner", reader.string) ?? "",
            x: fields.readRequired("x", reader.int) ?? 0, y: fields.readRequired("y", reader.int) ?? 0,
            width: fields.readRequired("width", reader.int) ?? 0,
            height: fields.readRequired("height", reader.int) ?? 0, z: fields.read("z", reader.int) ?? 0)
    }
}
