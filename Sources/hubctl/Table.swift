import JSON

/// Renders rows as an aligned text table with a header line.
func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() where index < widths.count {
            widths[index] = max(widths[index], cell.count)
        }
    }
    func line(_ cells: [String]) -> String {
        var text = ""
        for (index, cell) in cells.enumerated() {
            let isLast = index == cells.count - 1
            text += isLast ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 2)
        }
        return text
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

/// Renders an object as `key: value` lines, nested objects indented.
func keyValues(_ value: JSON, indent: String = "") -> String {
    guard case .object(let object) = value else { return indent + cell(value) }
    let width = object.keys.map(\.count).max() ?? 0
    var lines: [String] = []
    for (key, member) in object {
        let label = indent + key + ":" + String(repeating: " ", count: width - key.count + 1)
        if case .object(let nested) = member, !nested.isEmpty {
            lines.append(indent + key + ":")
            lines.append(keyValues(member, indent: indent + "  "))
        } else {
            lines.append(label + cell(member))
        }
    }
    return lines.joined(separator: "\n")
}

/// One value as table text: strings bare, null as "-", arrays comma-separated, objects as compact JSON.
func cell(_ value: JSON?) -> String {
    switch value {
    case nil, .null?: return "-"
    case .string(let text)?: return text
    case .bool(let flag)?: return flag ? "yes" : "no"
    case .array(let elements)?: return elements.map { cell($0) }.joined(separator: ",")
    case let other?: return other.serialized()
    }
}

/// One event (or missed marker) as a single human line.
func eventLine(method: String, params: JSON?) -> String {
    let params = params ?? .null
    if method == "events.missed" {
        return "!! missed \(cell(params["count"])) events (seq \(cell(params["firstSeq"]))…\(cell(params["lastSeq"])), "
            + "\(cell(params["reason"])))"
    }
    let seq = cell(params["seq"])
    let kind = cell(params["kind"])
    var text = "#\(seq) \(kind)"
    if let partition = params["partition"], partition != .null { text += " partition=\(cell(partition))" }
    if let device = params["device"], device != .null { text += " device=\(cell(device))" }
    if let data = params["data"], data != [:] { text += " " + data.serialized() }
    return text
}
