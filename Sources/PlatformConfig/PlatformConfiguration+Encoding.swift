extension PlatformConfiguration {
    /// YAML that `load(yaml:)` accepts and decodes to a value equal to `self` (for a valid configuration).
    ///
    /// Every field is written, defaults included, so the output doubles as a complete, annotated example.
    /// Partitions whose secret came from `secretFile` are written with the path, never the secret.
    package func encodeYAML() -> String {
        var out = YAMLWriter()
        out.comment("HandsetHub platform configuration; every field is described in Deploy/config-reference.md.")
        out.block("platform") { out in
            out.string("name", platform.name)
            out.string("description", platform.description)
        }
        out.block("hub") { out in encodeHub(&out) }
        out.list("partitions", partitions) { out, partition in encode(partition, &out) }
        out.list("links", links) { out, link in
            out.string("name", link.name)
            out.string("a", link.a)
            out.string("b", link.b)
            out.size("maxMessageBytes", link.maxMessageBytes)
            out.int("depth", link.depth)
            // Written only when set, so configurations without per-link budgets read as before.
            if let limit = link.rateLimit {
                out.block("rateLimit") { out in
                    out.int("messagesPerSecond", limit.messagesPerSecond)
                    out.size("bytesPerSecond", limit.bytesPerSecond)
                    if let burst = limit.burstMessages { out.int("burstMessages", burst) }
                    if let burst = limit.burstBytes { out.size("burstBytes", burst) }
                }
            }
        }
        out.list("regions", regions) { out, region in
            out.string("name", region.name)
            out.size("sizeBytes", region.sizeBytes)
            out.list("grants", region.grants) { out, grant in
                out.string("partition", grant.partition)
                out.string("access", grant.access.rawValue)
            }
            if let line = region.doorbellLine { out.int("doorbellLine", line) }
        }
        out.block("devices") { out in encodeDevices(&out) }
        // Written only when set, so configurations without management authorities read as before.
        if management != ManagementConfig() { out.block("management") { out in encodeManagement(&out) } }
        // Written only when changed, so configurations without a power model read as before.
        if power != PowerConfig() { out.block("power") { out in encodePower(&out) } }
        if policy != PolicyConfig() { out.block("policy") { out in policy.encode(&out) } }
        return out.text
    }

    private func encodeManagement(_ out: inout YAMLWriter) {
        out.int("auditMaxEntries", management.auditMaxEntries)
        if management.auditSegmentEntries != ManagementConfig.defaultAuditSegmentEntries {
            out.int("auditSegmentEntries", management.auditSegmentEntries)
        }
        if management.maxCommandLifetimeMs != ManagementConfig.defaultMaxCommandLifetimeMs {
            out.int("maxCommandLifetimeMs", management.maxCommandLifetimeMs)
        }
        out.list("authorities", management.authorities) { out, authority in
            out.string("name", authority.name)
            out.scalars("keys", authority.keys)
            out.int("threshold", authority.threshold)
            out.list("grants", authority.grants) { out, grant in
                out.scalars("operations", grant.operations)
                out.scalars("partitions", grant.partitions)
            }
            if authority.mayDowngrade { out.bool("mayDowngrade", true) }
            if let budget = authority.budget {
                out.block("budget") { out in
                    out.string("namePrefix", budget.namePrefix)
                    out.int("maxPartitions", budget.maxPartitions)
                    out.size("maxMemoryBytes", budget.maxMemoryBytes)
                    out.scalars("classes", budget.classes.map(\.rawValue))
                    out.int("minPriority", budget.minPriority)
                    out.int("maxPriority", budget.maxPriority)
                    out.scalars("devices", budget.devices)
                    out.scalars("peers", budget.peers)
                }
            }
        }
    }

    private func encodePower(_ out: inout YAMLWriter) {
        out.int("suspendAfterMs", power.suspendAfterMs)
        out.number("timeScale", power.timeScale)
        out.block("battery") { out in
            out.number("capacityMwh", power.capacityMwh)
            out.number("levelPercent", power.levelPercent)
            out.number("chargeMw", power.chargeMw)
            out.bool("charging", power.charging)
        }
        out.block("platformDrawMw") { out in
            for (key, value) in power.platformDraw.fields { out.number(key, value) }
        }
        out.block("partitionDrawMw") { out in
            out.block("default") { out in
                for (key, value) in power.defaultDraw.fields { out.number(key, value) }
            }
            for entry in power.partitions {
                out.block(entry.partition) { out in
                    for (key, value) in entry.draw.fields { out.number(key, value) }
                }
            }
        }
    }

    private func encodeSoftware(_ out: inout YAMLWriter) {
        let software = hub.software
        out.block("software") { out in
            out.int("probationMs", software.probationMs)
            out.int("maxStartAttempts", software.maxStartAttempts)
            out.size("maxManifestBytes", software.maxManifestBytes)
            out.size("maxImageBytes", software.maxImageBytes)
            out.int("maxImageFiles", software.maxImageFiles)
            if software.testHooks { out.bool("testHooks", true) }
        }
    }

    private func encodeHub(_ out: inout YAMLWriter) {
        out.scalars("controlEndpoints", hub.controlEndpoints.map(\.description))
        if let token = hub.controlToken { out.string("controlToken", token) }
        out.scalars("guestEndpoints", hub.guestEndpoints.map(\.description))
        out.int("handshakeTimeoutMs", hub.handshakeTimeoutMs)
        if hub.realTimePriority != 0 { out.int("realTimePriority", hub.realTimePriority) }
        if !hub.httpEndpoints.isEmpty { out.scalars("httpEndpoints", hub.httpEndpoints.map(\.description)) }
        if let token = hub.httpToken { out.string("httpToken", token) }
        if let directory = hub.stateDirectory { out.string("stateDirectory", directory) }
        if hub.software != SoftwareSettings() { encodeSoftware(&out) }
        out.block("limits") { out in
            for field in Limits.fields {
                if field.key.hasSuffix("Bytes") {
                    out.size(field.key, field.get(hub.limits))
                } else {
                    out.int(field.key, field.get(hub.limits))
                }
            }
        }
    }

    private func encode(_ partition: PartitionConfig, _ out: inout YAMLWriter) {
        out.string("name", partition.name)
        out.string("class", partition.schedulingClass.rawValue)
        out.int("priority", partition.priority)
        out.int("weight", partition.weight)
        out.size("memoryBytes", partition.memoryBytes)
        if let file = partition.secretFile {
            out.string("secretFile", file)
        } else {
            out.string("secret", partition.secret)
        }
        out.int("interruptLines", partition.interruptLines)
        out.scalars("mayInterrupt", partition.mayInterrupt)
        out.scalars("mayMessage", partition.mayMessage)
        // Written only when set, so configurations that never open links at run time read as before.
        if partition.mayOpenLinks { out.bool("mayOpenLinks", true) }
        if partition.mayManage { out.bool("mayManage", true) }
        if !partition.maySuspend.isEmpty { out.scalars("maySuspend", partition.maySuspend) }
        if partition.mayActivatePolicy { out.bool("mayActivatePolicy", true) }
        out.list("devices", partition.devices) { out, grant in
            out.string("device", grant.device)
            out.string("access", grant.access.rawValue)
        }
        out.block("restart") { out in
            out.string("mode", partition.restart.mode.rawValue)
            out.int("maxRestarts", partition.restart.maxRestarts)
            out.int("windowSeconds", partition.restart.windowSeconds)
            out.int("backoffInitialMs", partition.restart.backoffInitialMs)
            out.int("backoffMaxMs", partition.restart.backoffMaxMs)
        }
        out.bool("allowTakeover", partition.allowTakeover)
        if let heartbeat = partition.heartbeatMs { out.int("heartbeatMs", heartbeat) }
        if let launch = partition.launch {
            out.block("launch") { out in
                if !launch.command.isEmpty { out.scalars("command", launch.command) }
                if let qemu = launch.qemu {
                    out.block("qemu") { out in
                        out.string("binary", qemu.binary)
                        out.string("kernel", qemu.kernel)
                        if let initrd = qemu.initrd { out.string("initrd", initrd) }
                        out.string("append", qemu.append)
                        out.int("memoryMiB", qemu.memoryMiB)
                        out.string("nic", qemu.nic)
                        if let mac = qemu.mac { out.string("mac", mac) }
                        out.string("serial", qemu.serial.rawValue)
                        if !qemu.extraArguments.isEmpty { out.scalars("extraArguments", qemu.extraArguments) }
                    }
                }
                if !launch.environment.isEmpty { out.scalars("environment", launch.environment) }
                if let directory = launch.workingDirectory { out.string("workingDirectory", directory) }
                if let file = launch.logFile { out.string("logFile", file) }
                out.size("logFileMaxBytes", launch.logFileMaxBytes)
                out.size("logRingBytes", launch.logRingBytes)
                out.int("attachTimeoutMs", launch.attachTimeoutMs)
                out.bool("autoStart", launch.autoStart)
            }
        }
    }

    private func encodeDevices(_ out: inout YAMLWriter) {
        out.list("ethernet", devices.ethernet) { out, segment in Self.encodeSegment(segment, into: &out) }
        out.list("modems", devices.modems) { out, modem in Self.encodeModem(modem, into: &out) }
        out.list("framebuffers", devices.framebuffers) { out, framebuffer in
            Self.encodeFramebuffer(framebuffer, into: &out)
        }
    }

    /// One Ethernet segment and its ports.
    private static func encodeSegment(_ segment: SegmentConfig, into out: inout YAMLWriter) {
        out.string("name", segment.name)
        out.int("mtu", segment.mtu)
        if segment.macAgeingSeconds != SegmentConfig.defaultMACAgeingSeconds {
            out.int("macAgeingSeconds", segment.macAgeingSeconds)
        }
        out.list("ports", segment.ports) { out, port in
            out.string("name", port.name)
            if let partition = port.partition { out.string("partition", partition) }
            switch port.attachment {
            case .stream(let endpoint): out.string("stream", endpoint.description)
            case .vde(let endpoint): out.string("vde", endpoint.description)
            case .tap(let interface): out.string("tap", interface)
            case .dgram(let local, let remote):
                out.block("dgram") { out in
                    out.string("local", local.description)
                    if let remote { out.string("remote", remote.description) }
                }
            case .vxlan(let local, let vni, let remotes):
                out.block("vxlan") { out in
                    out.string("local", local.description)
                    out.int("vni", Int(vni))
                    out.scalars("remotes", remotes.map(\.description))
                }
            case nil: break
            }
            switch port.vlan {
            case .access(let vid): out.int("vlan", Int(vid))
            case .trunk(let allowed, let native):
                out.block("trunk") { out in
                    out.ints("allowed", allowed.map { Int($0) })
                    if let native { out.int("native", Int(native)) }
                }
            case nil: break
            }
            if port.isolated { out.bool("isolated", true) }
            if port.queueFrames != EthernetPortConfig.defaultQueueFrames {
                out.int("queueFrames", port.queueFrames)
            }
            if port.queueBytes != EthernetPortConfig.defaultQueueBytes { out.size("queueBytes", port.queueBytes) }
            if let mac = port.mac { out.string("mac", mac) }
            if port.persistent { out.bool("persistent", true) }
            if let impairment = port.impairment { out.string("impairment", impairment) }
        }
    }

    /// One modem, its backend and the limits that differ from the defaults.
    private static func encodeModem(_ modem: ModemConfig, into out: inout YAMLWriter) {
        out.string("name", modem.name)
        out.string("owner", modem.owner)
        if let pin = modem.pin { out.string("pin", pin) }
        switch modem.backend {
        case .builtin:
            out.string("backend", "builtin")
        case .remote(let endpoint):
            out.block("backend") { out in
                out.string("remote", endpoint.description)
                if let token = modem.backendToken { out.string("token", token) }
            }
        case .listen(let endpoint):
            out.block("backend") { out in
                out.string("listen", endpoint.description)
                if let token = modem.backendToken { out.string("token", token) }
            }
        }
        if !modem.listen.isEmpty { out.scalars("listen", modem.listen.map(\.description)) }
        if let pty = modem.pty { out.string("pty", pty) }
        if modem.shared { out.bool("shared", true) }
        if let line = modem.interruptLine { out.int("interruptLine", line) }
        if modem.maxLineBytes != ModemConfig.defaultMaxLineBytes { out.int("maxLineBytes", modem.maxLineBytes) }
        let defaults = ModemConfig(name: "", owner: "")
        if modem.number != defaults.number { out.string("number", modem.number) }
        if modem.operatorName != defaults.operatorName || modem.operatorShortName != defaults.operatorShortName
            || modem.operatorNumeric != defaults.operatorNumeric
        {
            out.block("operator") { out in
                out.string("name", modem.operatorName)
                out.string("shortName", modem.operatorShortName)
                out.string("numeric", modem.operatorNumeric)
            }
        }
        if modem.smsCapacity != defaults.smsCapacity || modem.maxCalls != defaults.maxCalls
            || modem.ringIntervalMs != defaults.ringIntervalMs || modem.traceLines != defaults.traceLines
            || modem.backendCommandTimeoutMs != defaults.backendCommandTimeoutMs
            || modem.backendKeepaliveMs != defaults.backendKeepaliveMs
            || modem.backendBacklogBytes != defaults.backendBacklogBytes
        {
            out.block("limits") { out in
                out.int("smsCapacity", modem.smsCapacity)
                out.int("maxCalls", modem.maxCalls)
                out.int("ringIntervalMs", modem.ringIntervalMs)
                out.int("traceLines", modem.traceLines)
                out.int("backendCommandTimeoutMs", modem.backendCommandTimeoutMs)
                out.int("backendKeepaliveMs", modem.backendKeepaliveMs)
                out.int("backendBacklogBytes", modem.backendBacklogBytes)
            }
        }
        if modem.echo != defaults.echo { out.string("echo", modem.echo.rawValue) }
    }

    /// One framebuffer and its layout.
    private static func encodeFramebuffer(_ framebuffer: FramebufferConfig, into out: inout YAMLWriter) {
        out.string("name", framebuffer.name)
        out.int("width", framebuffer.width)
        out.int("height", framebuffer.height)
        out.int("bitsPerPixel", framebuffer.bitsPerPixel)
        out.scalars("rfbEndpoints", framebuffer.rfbEndpoints.map(\.description))
        if let file = framebuffer.passwordFile {
            out.string("passwordFile", file)
        } else if let password = framebuffer.password {
            out.string("password", password)
        }
        out.list("layout", framebuffer.layout) { out, region in
            out.string("name", region.name)
            out.string("owner", region.owner)
            out.int("x", region.x)
            out.int("y", region.y)
            out.int("width", region.width)
            out.int("height", region.height)
            out.int("z", region.z)
        }
        if let focus = framebuffer.defaultFocus { out.string("defaultFocus", focus) }
        out.scalars("preemptors", framebuffer.preemptors)
        if let line = framebuffer.frameDoneLine { out.int("frameDoneLine", line) }
        if let line = framebuffer.inputLine { out.int("inputLine", line) }
        out.int("refreshHz", framebuffer.refreshHz)
        out.int("maxViewers", framebuffer.maxViewers)
        out.size("maxCutTextBytes", framebuffer.maxCutTextBytes)
    }
}
