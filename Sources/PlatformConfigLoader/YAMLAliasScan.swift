import CYaml
import PlatformConfig

/// Bounds what YAML aliases can do to the loader, before Yams composes the document.
///
/// Composing shares an anchored node between its aliases, so a chain of anchors, each listing the previous
/// one a few times, is a small text whose tree is exponentially large once walked. Two things walk it: the
/// decoder (bounded by the node budget of `YAMLReader`) and Yams itself, which hashes every mapping key to
/// find duplicates while composing — an alias used as a key made a 400-byte file take minutes there, before
/// any budget of ours could apply. So the event stream is scanned first, in one linear pass: each anchor's
/// expanded size is remembered (memoized, so the scan is linear however deep the chain), every alias adds
/// its anchor's size, and the scan stops with one precise issue at the first alias used as a mapping key or
/// once aliases have added more than `maxAliasNodes` nodes. Documents without aliases are not limited here:
/// their size is bounded by `PlatformConfiguration.maxYAMLBytes` and walking them is linear.
enum YAMLAliasScan {
    /// Nodes aliases may add to a document (on top of the nodes written out). Real configurations use a few
    /// aliases for repeated blocks, adding hundreds.
    static let maxAliasNodes = 100_000

    /// What the scan found: the document's size once aliases are expanded, or the issue that stopped it.
    struct Outcome: Equatable {
        var writtenNodes = 0
        var expandedNodes = 0
        var issue: ConfigIssue?
    }

    /// Scans `yaml`. A syntax error ends the scan without an issue: composing reports it precisely.
    static func scan(_ yaml: String, maxAliasNodes: Int = maxAliasNodes) -> Outcome {
        var outcome = Outcome()
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return outcome }
        defer { yaml_parser_delete(&parser) }
        var text = Array(yaml.utf8)
        return text.withUnsafeMutableBufferPointer { bytes in
            // SAFETY: libyaml reads the buffer only inside yaml_parser_parse, within this closure.
            yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)
            var scanner = Scanner(maxAliasNodes: maxAliasNodes)
            var event = yaml_event_t()
            while outcome.issue == nil {
                guard yaml_parser_parse(&parser, &event) == 1 else { break }
                let done = event.type == YAML_STREAM_END_EVENT
                outcome.issue = scanner.take(event)
                yaml_event_delete(&event)
                if done { break }
            }
            outcome.writtenNodes = scanner.written
            outcome.expandedNodes = scanner.expanded
            return outcome
        }
    }

    private struct Frame {
        var isMapping: Bool
        var anchor: String?
        /// Expanded nodes in this collection so far, itself included.
        var size = 1
        /// Children completed; in a mapping, even positions are keys.
        var children = 0
    }

    private struct Scanner {
        let maxAliasNodes: Int
        var anchors: [String: Int] = [:]
        var stack: [Frame] = []
        var written = 0
        var expanded = 0
        var aliasAdded = 0

        init(maxAliasNodes: Int) { self.maxAliasNodes = maxAliasNodes }

        mutating func take(_ event: yaml_event_t) -> ConfigIssue? {
            let line = Int(event.start_mark.line) + 1
            let column = Int(event.start_mark.column) + 1
            switch event.type {
            case YAML_SCALAR_EVENT:
                written += 1
                return completed(size: 1, anchor: Self.text(event.data.scalar.anchor), alias: nil, line, column)
            case YAML_ALIAS_EVENT:
                written += 1
                let name = Self.text(event.data.alias.anchor) ?? ""
                // An undefined alias is composing's error to report; count it as one node meanwhile.
                let size = anchors[name] ?? 1
                aliasAdded = Self.add(aliasAdded, size - 1)
                if aliasAdded > maxAliasNodes {
                    return ConfigIssue(
                        path: "",
                        reason:
                            "aliases expand the document by more than \(maxAliasNodes) nodes (at *\(name), which stands for \(size))",
                        line: line, column: column)
                }
                return completed(size: size, anchor: nil, alias: name, line, column)
            case YAML_SEQUENCE_START_EVENT:
                written += 1
                stack.append(Frame(isMapping: false, anchor: Self.text(event.data.sequence_start.anchor)))
            case YAML_MAPPING_START_EVENT:
                written += 1
                stack.append(Frame(isMapping: true, anchor: Self.text(event.data.mapping_start.anchor)))
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = stack.popLast() else { return nil }
                return completed(size: frame.size, anchor: frame.anchor, alias: nil, line, column)
            default:
                break
            }
            return nil
        }

        private mutating func completed(size: Int, anchor: String?, alias: String?, _ line: Int, _ column: Int)
            -> ConfigIssue?
        {
            if let anchor { anchors[anchor] = size }
            guard !stack.isEmpty else {
                expanded = Self.add(expanded, size)
                return nil
            }
            let last = stack.count - 1
            if let alias, stack[last].isMapping, stack[last].children % 2 == 0 {
                return ConfigIssue(
                    path: "", reason: "an alias (*\(alias)) cannot be a mapping key; write the key out",
                    line: line, column: column)
            }
            stack[last].size = Self.add(stack[last].size, size)
            stack[last].children += 1
            return nil
        }

        /// Saturating: sizes of nested aliases can exceed any integer before the budget stops the scan.
        private static func add(_ a: Int, _ b: Int) -> Int {
            let (sum, overflow) = a.addingReportingOverflow(b)
            return overflow ? Int.max : sum
        }

        private static func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
            guard let pointer else { return nil }
            // SAFETY: libyaml's anchor strings are NUL-terminated and live until yaml_event_delete.
            return String(cString: UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
        }
    }
}
