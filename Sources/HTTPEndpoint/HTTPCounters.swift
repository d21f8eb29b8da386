import DeviceKit
import EventLoop
import HTTPWire
import JSON

/// What the HTTP listener counts: answers by status, and why heads were refused (`http.status`, and
/// `handsethub_http_*` in `/metrics`).
final class HTTPCounters {
    private(set) var answers: [HTTPStatus: UInt64] = [:]
    private(set) var refusals: [String: UInt64] = [:]
    var metricsTooLarge: UInt64 = 0
    /// `/metrics` texts built, and requests answered with one built earlier (`httpMetricsReuseMs`).
    var metricsBuilt: UInt64 = 0
    var metricsReused: UInt64 = 0
    /// The longest time one build held the loop, in microseconds.
    var metricsLongestBuildUs: UInt64 = 0

    func answered(_ status: HTTPStatus) { answers[status, default: 0] += 1 }

    /// `reason` is one of the decoder's fixed texts (never a peer's bytes), so the map stays small.
    func refused(_ reason: String) { refusals[reason, default: 0] += 1 }

    var json: JSON {
        var byStatus = JSONObject()
        for status in HTTPStatus.allCases { byStatus[String(status.rawValue)] = .uint(answers[status] ?? 0) }
        var byReason = JSONObject()
        for (reason, count) in refusals.sorted(by: { $0.key < $1.key }) { byReason[reason] = .uint(count) }
        return [
            "answers": .object(byStatus), "refusals": .object(byReason), "metricsTooLarge": .uint(metricsTooLarge),
            "metricsBuilt": .uint(metricsBuilt), "metricsReused": .uint(metricsReused),
            "metricsLongestBuildUs": .uint(metricsLongestBuildUs),
        ]
    }
}

/// The `/metrics` families (`Protocols/http.md` §4), gathered from the hub's own control answers through
/// `DeviceHost.callMethod`: the same view `hubctl` shows, so metrics and control API cannot disagree, and no
/// device needs to know this one.
extension HTTPDevice {
    func metricsText() -> [UInt8] {
        var text = MetricsText()
        addHubMetrics(&text)
        addPartitionMetrics(&text)
        addLinkMetrics(&text)
        addEthernetMetrics(&text)
        addModemMetrics(&text)
        addFramebufferMetrics(&text)
        addAdmissionMetrics(&text)
        addPowerMetrics(&text)
        addErrorLogMetrics(&text)
        addPolicyMetrics(&text)
        addProvisioningMetrics(&text)
        addHTTPMetrics(&text)
        return text.encode()
    }

    private func call(_ method: String, _ params: JSON? = nil) -> JSON? {
        try? host.callMethod(method, params: params).get()
    }

    private static func number(_ value: JSON?) -> Double {
        if let integer = value?.int64Value { return Double(integer) }
        return value?.doubleValue ?? 0
    }

    private func addHubMetrics(_ text: inout MetricsText) {
        let info = call("hub.info")
        text.add(
            "handsethub_info", .gauge, "The hub's version and platform (always 1).",
            labels: [
                ("version", info?["version"]?.stringValue ?? ""), ("platform", info?["platform"]?.stringValue ?? ""),
            ], 1)
        text.add("handsethub_up", .gauge, "1 while the hub is ready (/readyz), else 0.", host.isReady ? 1 : 0)
        text.add(
            "handsethub_uptime_seconds", .gauge, "Seconds since the hub started.",
            HTTPDevice.number(info?["uptimeMs"]) / 1000)
        let loop = info?["loop"]
        text.add("handsethub_loop_passes_total", .counter, "Loop passes measured.", HTTPDevice.number(loop?["passes"]))
        text.add(
            "handsethub_loop_pass_longest_seconds", .gauge, "Longest busy time of one loop pass.",
            HTTPDevice.number(loop?["longestPassUs"]) / 1e6)
        text.add(
            "handsethub_loop_pass_p99_seconds", .gauge, "99th percentile of recent loop passes' busy time.",
            HTTPDevice.number(loop?["p99PassUs"]) / 1e6)
        text.add(
            "handsethub_loop_stalls_total", .counter, "Loop passes busy longer than loopStallWarnMs.",
            HTTPDevice.number(loop?["stalls"]))
        if let rss = ProcessResources.residentSetBytes() {
            text.add("handsethub_process_resident_memory_bytes", .gauge, "Resident set size of hubd.", Double(rss))
        }
    }

    private func addPartitionMetrics(_ text: inout MetricsText) {
        for entry in call("partition.list")?["partitions"]?.arrayValue ?? [] {
            guard let name = entry["name"]?.stringValue, let partition = call("partition.get", ["name": .string(name)])
            else { continue }
            let label = [("partition", name)]
            text.add(
                "handsethub_partition_state", .gauge, "The partition's state (the series with value 1).",
                labels: label + [("state", partition["state"]?.stringValue ?? "unknown")], 1)
            text.add(
                "handsethub_partition_attached", .gauge, "1 while the partition's guest is attached.", labels: label,
                entry["attached"]?.boolValue == true ? 1 : 0)
            text.add(
                "handsethub_partition_restarts_total", .counter, "Restarts of the partition's launched guest.",
                labels: label, HTTPDevice.number(partition["supervisor"]?["restarts"]))
            let counters = partition["counters"]
            for (key, outcome) in [
                ("irqRaised", "raised"), ("irqDelivered", "delivered"), ("irqLatched", "latched"),
                ("irqCoalesced", "coalesced"), ("irqRefused", "refused"),
            ] {
                text.add(
                    "handsethub_partition_interrupts_total", .counter, "Interrupts towards the partition, by outcome.",
                    labels: label + [("outcome", outcome)], HTTPDevice.number(counters?[key]))
            }
            for (key, outcome) in [
                ("msgQueued", "queued"), ("msgDelivered", "delivered"), ("msgRedelivered", "redelivered"),
                ("msgRefused", "refused"),
            ] {
                text.add(
                    "handsethub_partition_messages_total", .counter, "Messages to the partition, by outcome.",
                    labels: label + [("outcome", outcome)], HTTPDevice.number(counters?[key]))
            }
        }
    }

    private func addLinkMetrics(_ text: inout MetricsText) {
        for entry in call("link.list")?["links"]?.arrayValue ?? [] {
            guard let name = entry["name"]?.stringValue, let link = call("link.get", ["name": .string(name)]) else {
                continue
            }
            for queue in link["queues"]?.arrayValue ?? [] {
                let labels = [
                    ("link", name), ("from", queue["from"]?.stringValue ?? ""), ("to", queue["to"]?.stringValue ?? ""),
                ]
                text.add(
                    "handsethub_link_depth", .gauge, "Messages queued in one direction of a link.", labels: labels,
                    HTTPDevice.number(queue["depth"]))
                text.add(
                    "handsethub_link_capacity", .gauge, "Capacity of one direction of a link.", labels: labels,
                    HTTPDevice.number(queue["capacity"]))
                text.add(
                    "handsethub_link_rate_limited_total", .counter,
                    "Sends refused over the rate budget of one direction of a link.", labels: labels,
                    HTTPDevice.number(queue["rateLimited"]))
            }
            let counters = link["counters"]
            let label = [("link", name)]
            text.add(
                "handsethub_link_sent_total", .counter, "Messages sent on the link.", labels: label,
                HTTPDevice.number(counters?["sent"]))
            text.add(
                "handsethub_link_delivered_total", .counter, "Messages delivered on the link.", labels: label,
                HTTPDevice.number(counters?["delivered"]))
            // Every refused send: full or too large (`dropped`), over the rate budget, and sequence gaps
            // (`Protocols/control.md` §11.3), so a link that refuses only by rate does not read as refusing nothing.
            let refused = ["dropped", "rateLimited", "sequenceGaps"].reduce(0) { $0 + HTTPDevice.number(counters?[$1]) }
            text.add(
                "handsethub_link_refused_total", .counter,
                "Sends the link refused: full, too large, over its rate budget, or out of sequence.", labels: label,
                refused)
        }
    }

    private func addEthernetMetrics(_ text: inout MetricsText) {
        for segment in call("eth.segments")?["segments"]?.arrayValue ?? [] {
            guard let name = segment["name"]?.stringValue,
                let ports = call("eth.ports", ["segment": .string(name)])?["ports"]?.arrayValue
            else { continue }
            for port in ports {
                addEthernetPort(port, segment: name, &text)
            }
        }
    }

    private func addEthernetPort(_ port: JSON, segment: String, _ text: inout MetricsText) {
        let labels = [("segment", segment), ("port", port["name"]?.stringValue ?? "")]
        let counters = port["counters"]
        text.add(
            "handsethub_ethernet_port_up", .gauge, "1 while the port's link is up.", labels: labels,
            port["link"]?.boolValue == true ? 1 : 0)
        for direction in ["rx", "tx"] {
            text.add(
                "handsethub_ethernet_frames_total", .counter, "Frames through an Ethernet port, by direction.",
                labels: labels + [("direction", direction)], HTTPDevice.number(counters?["\(direction)Frames"]))
            text.add(
                "handsethub_ethernet_bytes_total", .counter, "Bytes through an Ethernet port, by direction.",
                labels: labels + [("direction", direction)], HTTPDevice.number(counters?["\(direction)Bytes"]))
        }
        let drops = counters?["drops"]?.objectValue ?? [:]
        for member in drops {
            text.add(
                "handsethub_ethernet_drops_total", .counter, "Frames an Ethernet port dropped, by reason.",
                labels: labels + [("reason", member.key)], HTTPDevice.number(member.value))
        }
    }

    private func addModemMetrics(_ text: inout MetricsText) {
        for modem in call("modem.list")?["modems"]?.arrayValue ?? [] {
            guard let name = modem["name"]?.stringValue else { continue }
            let label = [("modem", name)]
            text.add(
                "handsethub_modem_backend_up", .gauge, "1 while the modem's network backend is reachable.",
                labels: label + [("backend", modem["backend"]?.stringValue ?? "")],
                modem["backendUp"]?.boolValue == true ? 1 : 0)
            let status = call("modem.status", ["modem": .string(name)])
            text.add(
                "handsethub_modem_calls", .gauge, "Calls the modem has now.", labels: label,
                Double(status?["calls"]?.arrayValue?.count ?? 0))
            text.add(
                "handsethub_modem_sms_sent_total", .counter, "SMS the guest sent.", labels: label,
                HTTPDevice.number(status?["sent"]))
            text.add(
                "handsethub_modem_sms_stored", .gauge, "SMS stored in the modem.", labels: label,
                HTTPDevice.number(status?["stored"]))
        }
    }

    private func addFramebufferMetrics(_ text: inout MetricsText) {
        for config in host.configuration.devices.framebuffers {
            guard let info = call("fb.info", ["device": .string(config.name)]) else { continue }
            let label = [("framebuffer", config.name)]
            let counters = info["counters"]
            text.add(
                "handsethub_framebuffer_viewers", .gauge, "VNC viewers connected.", labels: label,
                Double(info["viewers"]?.arrayValue?.count ?? 0))
            text.add(
                "handsethub_framebuffer_updates_total", .counter, "Framebuffer updates sent to viewers.", labels: label,
                HTTPDevice.number(counters?["updatesSent"]))
            text.add(
                "handsethub_framebuffer_update_bytes_total", .counter, "Bytes of framebuffer updates sent.",
                labels: label, HTTPDevice.number(counters?["updateBytes"]))
        }
    }

    private func addAdmissionMetrics(_ text: inout MetricsText) {
        for gate in call("hub.admission")?["listeners"]?.arrayValue ?? [] {
            let label = [("listener", gate["name"]?.stringValue ?? "")]
            for state in ["pending", "authenticated"] {
                text.add(
                    "handsethub_admission_connections", .gauge, "Connections holding a slot, by state.",
                    labels: label + [("state", state)], HTTPDevice.number(gate[state]))
            }
            text.add(
                "handsethub_admission_accepted_total", .counter, "Connections accepted.", labels: label,
                HTTPDevice.number(gate["accepted"]))
            for member in gate["refused"]?.objectValue ?? [:] {
                text.add(
                    "handsethub_admission_refused_total", .counter, "Connections refused or ended, by reason.",
                    labels: label + [("reason", member.key)], HTTPDevice.number(member.value))
            }
        }
    }

    /// `power.status` (`Protocols/power.md`). Both states are fixed sets, so every state is a series (0 or 1):
    /// a query for "suspended" finds a 0 rather than nothing.
    private func addPowerMetrics(_ text: inout MetricsText) {
        guard let power = call("power.status") else { return }
        let platform = power["platform"]?.stringValue
        for state in ["on", "idle", "suspend"] {
            text.add(
                "handsethub_power_platform_state", .gauge, "The platform's power state (1 for the current one).",
                labels: [("state", state)], platform == state ? 1 : 0)
        }
        text.add(
            "handsethub_power_battery_level_ratio", .gauge, "Battery level, 0 to 1.",
            HTTPDevice.number(power["battery"]?["levelPercent"]) / 100)
        text.add(
            "handsethub_power_draw_watts", .gauge, "What the platform draws now.",
            HTTPDevice.number(power["drawMw"]) / 1000)
        let counters = power["counters"]
        for state in ["on", "idle", "suspend"] {
            text.add(
                "handsethub_power_state_seconds_total", .counter, "Time the platform spent in each power state.",
                labels: [("state", state)], HTTPDevice.number(counters?["timeInStateMs"]?[state]) / 1000)
        }
        // The sources of `Protocols/power.md` §3.3–§3.4 always, any other the model counted too.
        var wakeups = counters?["wakeups"]?.objectValue ?? [:]
        for source in ["irq", "call"] where wakeups[source] == nil { wakeups[source] = 0 }
        for member in wakeups.sorted(by: { $0.key < $1.key }) {
            text.add(
                "handsethub_power_wakeups_total", .counter, "Partition and platform wake-ups, by source.",
                labels: [("source", member.key)], HTTPDevice.number(member.value))
        }
        for member in (power["partitions"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            let state = member.value["state"]?.stringValue
            for candidate in ["active", "idle", "suspended", "off"] {
                text.add(
                    "handsethub_power_partition_state", .gauge,
                    "The power state the hub counts for a partition (1 for the current one).",
                    labels: [("partition", member.key), ("state", candidate)], state == candidate ? 1 : 0)
            }
        }
    }

    /// `errors.status` (`Protocols/errorlog.md`).
    private func addErrorLogMetrics(_ text: inout MetricsText) {
        guard let status = call("errors.status") else { return }
        for member in (status["partitions"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            let label = [("partition", member.key)]
            text.add(
                "handsethub_errorlog_entries", .gauge, "Entries kept in a partition's error log.", labels: label,
                HTTPDevice.number(member.value["count"]))
            text.add(
                "handsethub_errorlog_dropped_total", .counter,
                "Entries a partition's error log dropped to stay in its bounds (since its last reset).", labels: label,
                HTTPDevice.number(member.value["dropped"]))
        }
        text.add(
            "handsethub_errorlog_reports_rate_limited_total", .counter,
            "ERROR_REPORT frames refused over errorLogReportsPerSecond.",
            HTTPDevice.number(status["counters"]?["reportsRateLimited"]))
    }

    /// `policy.status` (`Protocols/policy.md`). The base policy is `profile="base"`, as the management operation
    /// `activatePolicy` names it (`Protocols/management.md` §3); no profile may be called so.
    private func addPolicyMetrics(_ text: inout MetricsText) {
        guard let status = call("policy.status") else { return }
        text.add(
            "handsethub_policy_profile_info", .gauge, "The policy profile in force (always 1; base: the base policy).",
            labels: [("profile", status["profile"]?.stringValue ?? "base")], 1)
        text.add(
            "handsethub_policy_activations_total", .counter, "Policy profile switches.",
            HTTPDevice.number(status["activations"]))
        text.add(
            "handsethub_policy_refusals_total", .counter,
            "Policy activations refused (unknown profile, partition without mayActivatePolicy).",
            HTTPDevice.number(status["refused"]))
    }

    /// `provisioning.status` (`Protocols/management.md` §9): partitions per authority, every budgeted authority
    /// even with none, and the commands by outcome.
    private func addProvisioningMetrics(_ text: inout MetricsText) {
        guard let status = call("provisioning.status") else { return }
        var byAuthority: [String: Double] = [:]
        for budget in status["budgets"]?.arrayValue ?? [] {
            if let authority = budget["authority"]?.stringValue { byAuthority[authority] = 0 }
        }
        for partition in status["partitions"]?.arrayValue ?? [] {
            if let authority = partition["authority"]?.stringValue { byAuthority[authority, default: 0] += 1 }
        }
        for (authority, count) in byAuthority.sorted(by: { $0.key < $1.key }) {
            text.add(
                "handsethub_provisioned_partitions", .gauge, "Partitions provisioned at run time, by authority.",
                labels: [("authority", authority)], count)
        }
        for outcome in ["provisioned", "deprovisioned", "refused"] {
            text.add(
                "handsethub_provisioning_commands_total", .counter, "Provisioning commands, by outcome.",
                labels: [("outcome", outcome)], HTTPDevice.number(status["counters"]?[outcome]))
        }
    }

    private func addHTTPMetrics(_ text: inout MetricsText) {
        for status in HTTPStatus.allCases {
            text.add(
                "handsethub_http_requests_total", .counter, "HTTP answers, by status.",
                labels: [("status", String(status.rawValue))], Double(counters.answers[status] ?? 0))
        }
    }
}
