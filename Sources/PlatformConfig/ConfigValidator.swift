/// Semantic checks on a decoded (or Swift-built) configuration: ranges, names, uniqueness, cross-references
/// and policy rules. Every rule appends an issue and carries on, so one pass finds everything.
struct ConfigValidator {
    private(set) var issues: [ConfigIssue] = []
    private let config: PlatformConfiguration
    private let partitionsByName: [String: PartitionConfig]
    private let deviceNames: Set<String>

    static let maxNameLength = 32

    init(_ config: PlatformConfiguration) {
        self.config = config
        var byName: [String: PartitionConfig] = [:]
        for partition in config.partitions where byName[partition.name] == nil { byName[partition.name] = partition }
        partitionsByName = byName
        deviceNames = Set(config.devices.allNames)
    }

    mutating func run() -> [ConfigIssue] {
        checkPlatform()
        checkHub()
        checkPartitions()
        checkLinks()
        checkRegions()
        checkDevices()
        issues += config.management.validationIssues(
            partitionNames: Set(config.partitions.map(\.name)), stateDirectory: config.hub.stateDirectory,
            policyTargets: Set(config.policy.profiles.map(\.name) + [ManagementConfig.basePolicyTarget]))
        for (index, authority) in config.management.authorities.enumerated() {
            issues +=
                authority.budget?.validationIssues(
                    "management.authorities[\(index)].budget", configuration: config) ?? []
        }
        issues += config.power.validationIssues(partitionNames: Set(config.partitions.map(\.name)))
        checkMaySuspend()
        issues += config.policy.validationIssues(config)
        return issues
    }

    /// `partitions[].maySuspend` names other, existing partitions.
    private mutating func checkMaySuspend() {
        for (index, partition) in config.partitions.enumerated() {
            for (peerIndex, peer) in partition.maySuspend.enumerated() {
                let path = "partitions[\(index)].maySuspend[\(peerIndex)]"
                if peer == partition.name {
                    add(path, "a partition cannot suspend itself")
                } else {
                    checkPartitionReference(peer, path)
                }
            }
        }
    }

    private mutating func add(_ path: String, _ reason: String) {
        issues.append(ConfigIssue(path: path, reason: reason))
    }

    /// The NIC must name a `stream` port (`SEGMENT/PORT`) the QEMU guest can connect to.
    private mutating func checkQemuNIC(_ qemu: QemuLaunch, _ path: String) {
        let parts = qemu.nic.split(separator: "/").map(String.init)
        guard parts.count == 2, let segment = config.devices.ethernet.first(where: { $0.name == parts[0] }),
            let port = segment.ports.first(where: { $0.name == parts[1] })
        else {
            add("\(path).nic", "'\(qemu.nic)' is not SEGMENT/PORT of a configured Ethernet port")
            return
        }
        guard case .stream = port.attachment else {
            add("\(path).nic", "port \(qemu.nic) must be a stream port (QEMU -netdev stream connects to it)")
            return
        }
    }

    /// The rule every configured name follows (partitions, links, regions, devices); links opened at run
    /// time follow it too.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maxNameLength
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
            && name.first!.isLetter
    }

    private mutating func check<T: Comparable>(_ value: T, in range: ClosedRange<T>, _ path: String) {
        if !range.contains(value) { add(path, "\(value) is outside \(range.lowerBound)...\(range.upperBound)") }
    }

    private mutating func checkName(_ name: String, _ path: String) {
        if !Self.isValidName(name) {
            add(
                path,
                "'\(name)' is not a valid name (a letter, then letters, digits, '-' or '_', at most \(Self.maxNameLength))"
            )
        }
    }

    /// Reports each repeated name at its later occurrence, pointing at the first.
    private mutating func checkUnique(_ entries: [(name: String, path: String)], what: String) {
        var first: [String: String] = [:]
        for entry in entries where !entry.name.isEmpty {
            if let earlier = first[entry.name] {
                add(entry.path, "duplicate \(what) '\(entry.name)' (also \(earlier))")
            } else {
                first[entry.name] = entry.path
            }
        }
    }

    private mutating func checkPartitionReference(_ name: String, _ path: String) {
        if partitionsByName[name] == nil { add(path, "unknown partition '\(name)'") }
    }

    private mutating func checkPlatform() {
        if config.platform.name.isEmpty { add("platform.name", "is empty") }
        check(config.platform.name.utf8.count, in: 0...64, "platform.name")
    }

    /// `hub.httpEndpoints` and `hub.httpToken` (`Protocols/http.md` §5): off loopback, `/metrics` needs a
    /// token, as the control API does.
    private mutating func checkHTTP(_ hub: HubSettings, _ seen: inout [Endpoint: String]) {
        if let token = hub.httpToken, token.count < 16 {
            add("hub.httpToken", token.isEmpty ? "is empty" : "is shorter than 16 characters")
        }
        check(hub.httpEndpoints.count, in: 0...16, "hub.httpEndpoints")
        for (index, endpoint) in hub.httpEndpoints.enumerated() {
            let path = "hub.httpEndpoints[\(index)]"
            if !endpoint.isLoopback && hub.effectiveHTTPToken == nil {
                add(path, "\(endpoint) is not loopback, so hub.httpToken (or hub.controlToken) is required")
            }
            checkEndpointUnique(endpoint, path, &seen)
        }
    }

    private mutating func checkHub() {
        let hub = config.hub
        if let token = hub.controlToken, token.count < 16 {
            add("hub.controlToken", token.isEmpty ? "is empty" : "is shorter than 16 characters")
        }
        if let directory = config.hub.stateDirectory, !directory.hasPrefix("/") {
            add("hub.stateDirectory", "'\(directory)' is not an absolute path")
        }
        var seen: [Endpoint: String] = [:]
        for (index, endpoint) in hub.controlEndpoints.enumerated() {
            let path = "hub.controlEndpoints[\(index)]"
            if !endpoint.isLoopback && hub.controlToken == nil {
                add(path, "\(endpoint) is not loopback, so hub.controlToken is required")
            }
            checkEndpointUnique(endpoint, path, &seen)
        }
        for (index, endpoint) in hub.guestEndpoints.enumerated() {
            checkEndpointUnique(endpoint, "hub.guestEndpoints[\(index)]", &seen)
        }
        checkHTTP(hub, &seen)
        check(hub.handshakeTimeoutMs, in: HubSettings.handshakeTimeoutRange, "hub.handshakeTimeoutMs")
        check(hub.realTimePriority, in: HubSettings.realTimePriorityRange, "hub.realTimePriority")
        check(hub.software.probationMs, in: SoftwareSettings.probationRange, "hub.software.probationMs")
        check(hub.software.maxStartAttempts, in: SoftwareSettings.startAttemptsRange, "hub.software.maxStartAttempts")
        check(hub.software.maxManifestBytes, in: SoftwareSettings.manifestBytesRange, "hub.software.maxManifestBytes")
        check(hub.software.maxImageBytes, in: SoftwareSettings.imageBytesRange, "hub.software.maxImageBytes")
        check(hub.software.maxImageFiles, in: SoftwareSettings.imageFilesRange, "hub.software.maxImageFiles")
        for field in Limits.fields {
            check(field.get(hub.limits), in: field.range, "hub.limits.\(field.key)")
        }
        if hub.limits.writeLowWatermarkBytes >= hub.limits.writeHighWatermarkBytes {
            add(
                "hub.limits.writeLowWatermarkBytes",
                "\(hub.limits.writeLowWatermarkBytes) is not below writeHighWatermarkBytes (\(hub.limits.writeHighWatermarkBytes))"
            )
        }
    }

    /// Two listeners on one address cannot both bind; port 0 asks for a fresh port each time, so it may repeat.
    private mutating func checkEndpointUnique(_ endpoint: Endpoint, _ path: String, _ seen: inout [Endpoint: String]) {
        if case .tcp(_, 0) = endpoint { return }
        if let earlier = seen[endpoint] {
            add(path, "\(endpoint) is already used by \(earlier)")
        } else {
            seen[endpoint] = path
        }
    }

    private mutating func checkPartitions() {
        if config.partitions.isEmpty { add("partitions", "at least one partition is required") }
        checkUnique(
            config.partitions.enumerated().map { ($1.name, "partitions[\($0)].name") }, what: "partition name")
        for (index, partition) in config.partitions.enumerated() {
            let path = "partitions[\(index)]"
            checkName(partition.name, "\(path).name")
            check(partition.priority, in: PartitionConfig.priorityRange, "\(path).priority")
            check(partition.weight, in: PartitionConfig.weightRange, "\(path).weight")
            check(partition.memoryBytes, in: PartitionConfig.memoryRange, "\(path).memoryBytes")
            if partition.memoryBytes % PartitionConfig.pageBytes != 0 {
                add("\(path).memoryBytes", "\(partition.memoryBytes) is not a multiple of the 4096-byte page")
            }
            if partition.secret.isEmpty {
                if partition.secretFile == nil {
                    add("\(path).secret", "is empty")
                } else {
                    add("\(path).secretFile", "the secret is empty")
                }
            }
            check(partition.interruptLines, in: PartitionConfig.interruptLinesRange, "\(path).interruptLines")
            if let heartbeat = partition.heartbeatMs {
                check(heartbeat, in: PartitionConfig.heartbeatRange, "\(path).heartbeatMs")
            }
            checkPeers(partition.mayInterrupt, of: partition, "\(path).mayInterrupt", verb: "interrupt")
            checkPeers(partition.mayMessage, of: partition, "\(path).mayMessage", verb: "message")
            for (peerIndex, peer) in partition.mayMessage.enumerated()
            where peer != partition.name && partitionsByName[peer] != nil
                && !config.links.contains(where: { $0.joins(partition.name, peer) })
                // Either end may open the link at run time instead.
                && !partition.mayOpenLinks && partitionsByName[peer]?.mayOpenLinks != true
            {
                add("\(path).mayMessage[\(peerIndex)]", "no link joins \(partition.name) and \(peer)")
            }
            checkGrants(partition, path)
            checkRestart(partition.restart, "\(path).restart")
            if let launch = partition.launch {
                if launch.qemu == nil && (launch.command.isEmpty || launch.command[0].isEmpty) {
                    add("\(path).launch.command", "must name the program to run")
                }
                if let qemu = launch.qemu {
                    if !launch.command.isEmpty { add("\(path).launch.qemu", "cannot be combined with command") }
                    check(qemu.memoryMiB, in: QemuLaunch.memoryRange, "\(path).launch.qemu.memoryMiB")
                    checkQemuNIC(qemu, "\(path).launch.qemu")
                    if qemu.serial == .modem {
                        let owned = config.devices.modems.first { $0.owner == partition.name }
                        if owned == nil {
                            add("\(path).launch.qemu.serial", "modem: \(partition.name) owns no modem")
                        } else if !(owned!.listen.contains { if case .unix = $0 { return true } else { return false } })
                        {
                            add(
                                "\(path).launch.qemu.serial",
                                "modem: \(owned!.name) has no unix listen endpoint for QEMU's serial line")
                        }
                    }
                }
                for (index, entry) in launch.environment.enumerated() {
                    let key = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                    if !entry.contains("=") || key.isEmpty {
                        add("\(path).launch.environment[\(index)]", "'\(entry)' is not KEY=VALUE")
                    } else if key.hasPrefix("HANDSETHUB_") {
                        add("\(path).launch.environment[\(index)]", "\(key) is set by the hub")
                    }
                }
                check(launch.logRingBytes, in: LaunchConfig.logRingRange, "\(path).launch.logRingBytes")
                check(launch.logFileMaxBytes, in: LaunchConfig.logFileMaxRange, "\(path).launch.logFileMaxBytes")
                check(launch.attachTimeoutMs, in: LaunchConfig.attachTimeoutRange, "\(path).launch.attachTimeoutMs")
            }
        }
        checkDedicatedDevices()
    }

    private mutating func checkPeers(_ peers: [String], of partition: PartitionConfig, _ path: String, verb: String) {
        var seen: Set<String> = []
        for (index, peer) in peers.enumerated() {
            let peerPath = "\(path)[\(index)]"
            if peer == partition.name {
                add(peerPath, "a partition cannot \(verb) itself")
            } else if partitionsByName[peer] == nil {
                add(peerPath, "unknown partition '\(peer)'")
            } else if !seen.insert(peer).inserted {
                add(peerPath, "'\(peer)' is listed twice")
            }
        }
    }

    private mutating func checkGrants(_ partition: PartitionConfig, _ path: String) {
        var seen: Set<String> = []
        for (index, grant) in partition.devices.enumerated() {
            let grantPath = "\(path).devices[\(index)].device"
            if !deviceNames.contains(grant.device) {
                add(grantPath, "unknown device '\(grant.device)'")
            } else if !seen.insert(grant.device).inserted {
                add(grantPath, "'\(grant.device)' is granted twice")
            }
        }
    }

    /// A dedicated device has one user: reports every other grant of it.
    private mutating func checkDedicatedDevices() {
        var grants: [String: [(partition: String, access: DeviceAccess, path: String)]] = [:]
        for (index, partition) in config.partitions.enumerated() {
            for (grantIndex, grant) in partition.devices.enumerated() where deviceNames.contains(grant.device) {
                grants[grant.device, default: []].append(
                    (partition.name, grant.access, "partitions[\(index)].devices[\(grantIndex)]"))
            }
        }
        for device in config.devices.allNames {
            guard let list = grants[device], list.count > 1,
                let owner = list.first(where: { $0.access == .dedicated })
            else { continue }
            for other in list where other.path != owner.path && other.partition != owner.partition {
                add(other.path, "\(device) is dedicated to \(owner.partition) (\(owner.path))")
            }
        }
    }

    private mutating func checkRestart(_ policy: RestartPolicy, _ path: String) {
        check(policy.maxRestarts, in: RestartPolicy.maxRestartsRange, "\(path).maxRestarts")
        check(policy.windowSeconds, in: RestartPolicy.windowRange, "\(path).windowSeconds")
        check(policy.backoffInitialMs, in: RestartPolicy.backoffRange, "\(path).backoffInitialMs")
        check(policy.backoffMaxMs, in: RestartPolicy.backoffRange, "\(path).backoffMaxMs")
        if policy.backoffInitialMs > policy.backoffMaxMs {
            add("\(path).backoffInitialMs", "\(policy.backoffInitialMs) is above backoffMaxMs (\(policy.backoffMaxMs))")
        }
    }

    private mutating func checkLinks() {
        checkUnique(config.links.enumerated().map { ($1.name, "links[\($0)].name") }, what: "link name")
        let frameRoom = config.hub.limits.guestMaxFrameBytes - GuestFrame.headerAllowance
        for (index, link) in config.links.enumerated() {
            let path = "links[\(index)]"
            checkName(link.name, "\(path).name")
            checkPartitionReference(link.a, "\(path).a")
            checkPartitionReference(link.b, "\(path).b")
            if link.a == link.b && !link.a.isEmpty { add("\(path).b", "a link cannot join \(link.a) to itself") }
            if let earlier = config.links.prefix(index).firstIndex(where: { $0.joins(link.a, link.b) }),
                link.a != link.b
            {
                add(path, "\(link.a) and \(link.b) are already joined by links[\(earlier)]")
            }
            check(link.maxMessageBytes, in: LinkConfig.maxMessageBytesRange, "\(path).maxMessageBytes")
            if link.maxMessageBytes > frameRoom && LinkConfig.maxMessageBytesRange.contains(link.maxMessageBytes) {
                add(
                    "\(path).maxMessageBytes",
                    "\(link.maxMessageBytes) does not fit in a guest frame (hub.limits.guestMaxFrameBytes minus \(GuestFrame.headerAllowance))"
                )
            }
            check(link.depth, in: LinkConfig.depthRange, "\(path).depth")
            if let limit = link.rateLimit { checkRateLimit(limit, link: link, "\(path).rateLimit") }
        }
    }

    /// A link's `rateLimit`: the rules of `LinkRateLimit.issues`, shared with profiles' `linkRates`.
    private mutating func checkRateLimit(_ limit: LinkRateLimit, link: LinkConfig, _ path: String) {
        issues += limit.issues(maxMessageBytes: link.maxMessageBytes, at: path)
    }

    private mutating func checkRegions() {
        checkUnique(config.regions.enumerated().map { ($1.name, "regions[\($0)].name") }, what: "region name")
        for (index, region) in config.regions.enumerated() {
            let path = "regions[\(index)]"
            checkName(region.name, "\(path).name")
            check(region.sizeBytes, in: RegionConfig.sizeRange, "\(path).sizeBytes")
            if region.sizeBytes % PartitionConfig.pageBytes != 0 {
                add("\(path).sizeBytes", "\(region.sizeBytes) is not a multiple of the 4096-byte page")
            }
            if region.grants.isEmpty { add("\(path).grants", "a region needs at least one grant") }
            var seen: Set<String> = []
            for (grantIndex, grant) in region.grants.enumerated() {
                let grantPath = "\(path).grants[\(grantIndex)].partition"
                if partitionsByName[grant.partition] == nil {
                    add(grantPath, "unknown partition '\(grant.partition)'")
                } else if !seen.insert(grant.partition).inserted {
                    add(grantPath, "'\(grant.partition)' is granted twice")
                }
            }
            guard let line = region.doorbellLine else { continue }
            if line < 0 {
                add("\(path).doorbellLine", "\(line) is negative")
                continue
            }
            for partition in seen.compactMap({ partitionsByName[$0] }).sorted(by: { $0.name < $1.name })
            where line >= partition.interruptLines {
                add(
                    "\(path).doorbellLine",
                    "\(line) is not below the interruptLines of \(partition.name) (\(partition.interruptLines))")
            }
        }
    }

    private mutating func checkDevices() {
        let devices = config.devices
        var entries: [(String, String)] = []
        entries += devices.ethernet.enumerated().map { ($1.name, "devices.ethernet[\($0)].name") }
        entries += devices.modems.enumerated().map { ($1.name, "devices.modems[\($0)].name") }
        entries += devices.framebuffers.enumerated().map { ($1.name, "devices.framebuffers[\($0)].name") }
        checkUnique(entries, what: "device name")
        for (name, path) in entries { checkName(name, path) }

        for (index, segment) in devices.ethernet.enumerated() { checkSegment(segment, "devices.ethernet[\(index)]") }
        for (index, modem) in devices.modems.enumerated() { checkModem(modem, "devices.modems[\(index)]") }
        var seenEndpoints: [Endpoint: String] = [:]
        for endpoint in config.hub.controlEndpoints + config.hub.guestEndpoints + config.hub.httpEndpoints {
            seenEndpoints[endpoint] = "hub"
        }
        for (index, framebuffer) in devices.framebuffers.enumerated() {
            let path = "devices.framebuffers[\(index)]"
            check(framebuffer.width, in: FramebufferConfig.dimensionRange, "\(path).width")
            check(framebuffer.height, in: FramebufferConfig.dimensionRange, "\(path).height")
            if !FramebufferConfig.allowedBitsPerPixel.contains(framebuffer.bitsPerPixel) {
                add("\(path).bitsPerPixel", "\(framebuffer.bitsPerPixel) is not 16 or 32")
            }
            checkFramebuffer(framebuffer, path, &seenEndpoints)
        }
    }

    /// One Ethernet segment: its MTU, ageing, and ports with their partitions and grants.
    private mutating func checkSegment(_ segment: SegmentConfig, _ path: String) {
        check(segment.mtu, in: SegmentConfig.mtuRange, "\(path).mtu")
        check(segment.macAgeingSeconds, in: SegmentConfig.macAgeingRange, "\(path).macAgeingSeconds")
        checkUnique(
            segment.ports.enumerated().map { ($1.name, "\(path).ports[\($0)].name") }, what: "port name")
        for (portIndex, port) in segment.ports.enumerated() {
            let portPath = "\(path).ports[\(portIndex)]"
            checkName(port.name, "\(portPath).name")
            validateEthernetPort(port, portPath)
            guard let partitionName = port.partition else { continue }
            if let partition = partitionsByName[partitionName] {
                if partition.grant(for: segment.name) == nil {
                    add("\(portPath).partition", "\(partitionName) has no grant for \(segment.name)")
                }
            } else {
                add("\(portPath).partition", "unknown partition '\(partitionName)'")
            }
        }
    }

    /// One modem: its listeners, owner and grant, PIN, line, PTY, number, operator, limits and backend.
    private mutating func checkModem(_ modem: ModemConfig, _ path: String) {
        // Raw AT has no authentication: its listeners stay on this machine (remote hubs use `hubd modem-sim`).
        for (number, endpoint) in modem.listen.enumerated() where !endpoint.isLoopback {
            add(
                "\(path).listen[\(number)]",
                "\(endpoint) is reachable from elsewhere and raw AT has no authentication; bind it to loopback or a unix socket"
            )
        }
        if let owner = partitionsByName[modem.owner] {
            if owner.grant(for: modem.name) == nil {
                add("\(path).owner", "\(modem.owner) has no grant for \(modem.name)")
            }
        } else {
            add("\(path).owner", "unknown partition '\(modem.owner)'")
        }
        if let pin = modem.pin, !(4...8).contains(pin.count) || !pin.allSatisfy({ $0.isASCII && $0.isNumber }) {
            add("\(path).pin", "a PIN is 4 to 8 digits")
        }
        check(modem.maxLineBytes, in: ModemConfig.maxLineBytesRange, "\(path).maxLineBytes")
        if let line = modem.interruptLine, let owner = partitionsByName[modem.owner],
            !(0..<owner.interruptLines).contains(line)
        {
            add(
                "\(path).interruptLine", "\(line) is not a line of \(modem.owner) (0...\(owner.interruptLines - 1))"
            )
        }
        if let pty = modem.pty, !pty.hasPrefix("/") || pty.utf8.count > 1024 {
            add("\(path).pty", "the PTY symlink must be an absolute path")
        }
        let digits = modem.number.hasPrefix("+") ? modem.number.dropFirst() : Substring(modem.number)
        if digits.isEmpty || digits.count > 20 || !digits.allSatisfy({ $0.isASCII && $0.isNumber }) {
            add("\(path).number", "a number is 1 to 20 digits with an optional leading +")
        }
        if !(5...6).contains(modem.operatorNumeric.count)
            || !modem.operatorNumeric.allSatisfy({ $0.isASCII && $0.isNumber })
        {
            add("\(path).operator.numeric", "MCC+MNC is 5 or 6 digits")
        }
        check(modem.smsCapacity, in: ModemConfig.smsCapacityRange, "\(path).limits.smsCapacity")
        check(modem.maxCalls, in: ModemConfig.maxCallsRange, "\(path).limits.maxCalls")
        check(modem.ringIntervalMs, in: ModemConfig.ringIntervalMsRange, "\(path).limits.ringIntervalMs")
        check(modem.traceLines, in: ModemConfig.traceLinesRange, "\(path).limits.traceLines")
        check(
            modem.backendCommandTimeoutMs, in: ModemConfig.backendCommandTimeoutMsRange,
            "\(path).limits.backendCommandTimeoutMs")
        check(
            modem.backendKeepaliveMs, in: ModemConfig.backendKeepaliveMsRange, "\(path).limits.backendKeepaliveMs")
        check(
            modem.backendBacklogBytes, in: ModemConfig.backendBacklogBytesRange,
            "\(path).limits.backendBacklogBytes")
        if let token = modem.backendToken, token.isEmpty || token.utf8.count > 256 {
            add("\(path).backend.token", "a token is 1 to 256 bytes")
        }
        switch modem.backend {
        case .builtin:
            if modem.backendToken != nil { add("\(path).backend.token", "only a remote backend takes a token") }
        case .remote:
            break
        case .listen(let endpoint):
            // Whoever reaches this port drives the owner's modem: off the host, only with the secret.
            if !endpoint.isLoopback && modem.backendToken == nil {
                add(
                    "\(path).backend.listen",
                    "\(endpoint) is not loopback, so a token is required (backend: {listen: …, token: …})")
            }
        }
    }
}

extension ConfigValidator {
    fileprivate mutating func checkFramebuffer(
        _ framebuffer: FramebufferConfig, _ path: String, _ seen: inout [Endpoint: String]
    ) {
        for (index, endpoint) in framebuffer.rfbEndpoints.enumerated() {
            let endpointPath = "\(path).rfbEndpoints[\(index)]"
            if !endpoint.isLoopback && framebuffer.password == nil {
                add(
                    endpointPath,
                    "\(endpoint) is not loopback, so a VNC password (password or passwordFile) is required")
            }
            if case .tcp(_, 0) = endpoint { continue }
            if let earlier = seen[endpoint] {
                add(endpointPath, "\(endpoint) is already used by \(earlier)")
            } else {
                seen[endpoint] = endpointPath
            }
        }
        if let password = framebuffer.password, password.isEmpty || password.utf8.count > 8 {
            add("\(path).password", "a VNC password is 1 to 8 bytes (only 8 count in VNC authentication)")
        }
        let screen = (width: framebuffer.width, height: framebuffer.height)
        checkUnique(
            framebuffer.layout.enumerated().map { ($1.name, "\(path).layout[\($0)].name") }, what: "region name")
        for (index, region) in framebuffer.layout.enumerated() {
            let regionPath = "\(path).layout[\(index)]"
            checkName(region.name, "\(regionPath).name")
            checkFramebufferPartition(region.owner, framebuffer.name, "\(regionPath).owner")
            if region.x < 0 || region.y < 0 || region.width < 1 || region.height < 1
                || region.x + region.width > screen.width || region.y + region.height > screen.height
            {
                add(
                    regionPath,
                    "\(region.width)x\(region.height)+\(region.x)+\(region.y) is not a non-empty rectangle inside the \(screen.width)x\(screen.height) screen"
                )
            }
        }
        if let focus = framebuffer.defaultFocus, !framebuffer.layout.contains(where: { $0.owner == focus }) {
            add("\(path).defaultFocus", "\(focus) owns no region of \(framebuffer.name)")
        }
        for (index, partition) in framebuffer.preemptors.enumerated() {
            checkFramebufferPartition(partition, framebuffer.name, "\(path).preemptors[\(index)]")
        }
        let users = Set(framebuffer.layout.map(\.owner) + framebuffer.preemptors)
        for (key, line) in [("frameDoneLine", framebuffer.frameDoneLine), ("inputLine", framebuffer.inputLine)] {
            guard let line else { continue }
            if line < 0 { add("\(path).\(key)", "\(line) is negative") }
            for user in users.sorted() {
                if let partition = partitionsByName[user], line >= partition.interruptLines {
                    add(
                        "\(path).\(key)",
                        "\(line) is not below the interruptLines of \(user) (\(partition.interruptLines))")
                }
            }
        }
        if let frame = framebuffer.frameDoneLine, frame == framebuffer.inputLine {
            add("\(path).inputLine", "\(frame) is also the frameDoneLine")
        }
        check(framebuffer.refreshHz, in: FramebufferConfig.refreshRange, "\(path).refreshHz")
        check(framebuffer.maxViewers, in: FramebufferConfig.maxViewersRange, "\(path).maxViewers")
        check(framebuffer.maxCutTextBytes, in: FramebufferConfig.maxCutTextRange, "\(path).maxCutTextBytes")
    }

    private mutating func checkFramebufferPartition(_ name: String, _ device: String, _ path: String) {
        guard let partition = partitionsByName[name] else { return add(path, "unknown partition '\(name)'") }
        if partition.grant(for: device) == nil { add(path, "\(name) has no grant for \(device)") }
    }
}

/// Room the guest protocol needs around a message payload inside one frame.
enum GuestFrame {
    static let headerAllowance = 64
}

extension ConfigValidator {
    /// VLAN ids, VNI, queue size, tap names and presets of one Ethernet port.
    fileprivate mutating func validateEthernetPort(_ port: EthernetPortConfig, _ path: String) {
        check(port.queueFrames, in: EthernetPortConfig.queueFramesRange, "\(path).queueFrames")
        check(port.queueBytes, in: EthernetPortConfig.queueBytesRange, "\(path).queueBytes")
        var isTap = false
        if case .tap = port.attachment { isTap = true }
        if let mac = port.mac {
            if !isTap {
                add("\(path).mac", "only a tap port takes a fixed MAC address")
            } else if !EthernetPortConfig.isValidUnicastMAC(mac) {
                add("\(path).mac", "'\(mac)' is not a unicast MAC address (six hex pairs separated by ':')")
            }
        }
        if port.persistent && !isTap { add("\(path).persistent", "only a tap port can be persistent") }
        switch port.vlan {
        case .access(let vid):
            check(Int(vid), in: EthernetVLAN.vidRange, "\(path).vlan")
        case .trunk(let allowed, let native):
            for (index, vid) in allowed.enumerated() {
                check(Int(vid), in: EthernetVLAN.vidRange, "\(path).trunk.allowed[\(index)]")
            }
            if let native { check(Int(native), in: EthernetVLAN.vidRange, "\(path).trunk.native") }
        case nil:
            break
        }
        if let preset = port.impairment, !EthernetPortConfig.impairmentPresets.contains(preset) {
            add(
                "\(path).impairment",
                "unknown preset '\(preset)' (one of \(EthernetPortConfig.impairmentPresets.joined(separator: ", ")))")
        }
        switch port.attachment {
        case .tap(let interface):
            if interface.isEmpty || interface.utf8.count > EthernetAttachment.maxInterfaceNameBytes
                || interface.contains("/") || interface.contains(" ") || interface.contains(":")
            {
                add("\(path).tap", "an interface name is 1 to 15 bytes without '/', ':' or spaces")
            }
        case .vxlan(let local, let vni, let remotes):
            check(vni, in: EthernetAttachment.vniRange, "\(path).vxlan.vni")
            if remotes.count > 64 { add("\(path).vxlan.remotes", "at most 64 remotes") }
            // VXLAN has no authentication: off loopback, only the configured remotes are heard.
            if !Endpoint.tcp(host: local.host, port: 0).isLoopback && remotes.isEmpty {
                add(
                    "\(path).vxlan.remotes", "a VXLAN port bound to \(local.host) needs remotes: only they are accepted"
                )
            }
        case .dgram(let local, let remote):
            if !Endpoint.tcp(host: local.host, port: 0).isLoopback && remote == nil {
                add("\(path).dgram.remote", "a dgram port bound to \(local.host) needs a remote: only it is accepted")
            }
        case .stream(let endpoint), .vde(let endpoint):
            // QEMU and VDE stream cables cannot authenticate, so they stay on this machine.
            if !endpoint.isLoopback {
                add(
                    "\(path).\(port.attachment!.kind)",
                    "\(endpoint) is reachable from elsewhere and this framing has no authentication; bind it to loopback or a unix socket"
                )
            }
        case nil:
            break
        }
    }
}

extension PlatformConfiguration {
    /// The semantic problems of this configuration (ranges, names, references, policy), as `load` reports them.
    /// Useful for configurations built or edited in Swift.
    package func validate() -> [ConfigIssue] {
        var validator = ConfigValidator(self)
        return validator.run()
    }
}
