import Endpoints

/// The one-screen summary `hubd` logs at start-up and prints for `--check-config`.
package struct HubSummary {
    package let configuration: PlatformConfiguration
    package let boundControl: [Endpoint]
    package let boundGuest: [Endpoint]

    package init(configuration: PlatformConfiguration, boundControl: [Endpoint], boundGuest: [Endpoint]) {
        self.configuration = configuration
        self.boundControl = boundControl
        self.boundGuest = boundGuest
    }

    package var text: String {
        var lines: [String] = ["platform \(configuration.platform.name): \(configuration.partitions.count) partitions"]
        let rows = configuration.partitions.map { partition -> [String] in
            [
                partition.name, partition.schedulingClass.rawValue, "prio \(partition.priority)",
                "weight \(partition.weight)", "\(partition.interruptLines) lines",
                "devices: " + (partition.devices.map { "\($0.device)(\($0.access.rawValue))" }.joined(separator: ",")),
            ]
        }
        lines += TextTable.render(rows).map { "  " + $0 }
        let devices = configuration.devices
        lines.append(
            "devices: "
                + (devices.ethernet.map { "\($0.name) ethernet mtu \($0.mtu), \($0.ports.count) ports" }
                + devices.modems.map { "\($0.name) modem owned by \($0.owner)" }
                + devices.framebuffers.map { "\($0.name) framebuffer \($0.width)x\($0.height)x\($0.bitsPerPixel)" })
                .joined(separator: "; "))
        lines.append("links: " + configuration.links.map { "\($0.name) \($0.a)<->\($0.b)" }.joined(separator: ", "))
        let control = boundControl.isEmpty ? configuration.hub.controlEndpoints : boundControl
        let guest = boundGuest.isEmpty ? configuration.hub.guestEndpoints : boundGuest
        lines.append("control: " + control.map(\.description).joined(separator: " "))
        lines.append("guests:  " + guest.map(\.description).joined(separator: " "))
        return lines.joined(separator: "\n")
    }
}

/// Left-aligned columns separated by two spaces.
enum TextTable {
    static func render(_ rows: [[String]]) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }
    }
}
