import CLibYAML

/// What the composer refuses to build, so a small hostile text cannot make a large or deep tree.
package struct ComposeLimits: Sendable {
    /// Nodes aliases may add on top of the nodes written out: each alias adds its anchor's expanded size less
    /// one. A chain of anchors each listing the previous one a few times ("billion laughs") stands for an
    /// exponential tree; composing shares the anchored node, but every reader that walks the tree pays.
    package var maxAliasNodes: Int
    /// Mappings and lists nested in one another, counting what an alias brings: the readers of the tree
    /// recurse, and a tree too deep for their stack would crash the process instead of being refused.
    package var maxDepth: Int

    package init(maxAliasNodes: Int = 100_000, maxDepth: Int = 64) {
        self.maxAliasNodes = maxAliasNodes
        self.maxDepth = maxDepth
    }
}

/// Why a text did not compose: the reason as the configuration report words it, and where, when known.
package struct ComposeError: Error, Equatable, Sendable {
    package var reason: String
    package var mark: Mark?

    package init(_ reason: String, at mark: Mark?) {
        self.reason = reason
        self.mark = mark
    }
}

/// The one document of a text, composed into a tree.
package struct Composed: Sendable {
    package var root: Node
    /// The tree's size with every alias expanded: what a reader walking it all would visit.
    package var expandedNodes: Int
}

/// Composes YAML text into a `Node` tree from libyaml's event stream, in one pass and without recursion.
///
/// The text holds exactly one document (none composes to nil). Aliases are bounded while composing (their
/// expanded size is memoized per anchor, so the bound costs nothing however deep the chain), an alias cannot
/// be a mapping key, scalar keys of one mapping are unique, nesting is bounded and no scalar holds a NUL.
package enum Composer {
    package static func compose(_ text: String, limits: ComposeLimits = ComposeLimits()) throws(ComposeError)
        -> Composed?
    {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw ComposeError("YAML error: out of memory", at: nil) }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        let bytes = Array(text.utf8)
        let outcome: Result<Composed?, ComposeError> = bytes.withUnsafeBufferPointer { buffer in
            // SAFETY: libyaml reads the buffer only inside yaml_parser_parse, called within this closure while
            // `bytes` is alive; it never writes to it.
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var builder = Builder(limits: limits)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else { return .failure(parserError(parser)) }
                let step = builder.take(event)
                let done = event.type == YAML_STREAM_END_EVENT
                yaml_event_delete(&event)
                switch step {
                case .failure(let error): return .failure(error)
                case .success: break
                }
                if done { break }
            }
            return .success(builder.root.map { Composed(root: $0, expandedNodes: builder.expandedNodes) })
        }
        return try outcome.get()
    }

    /// libyaml's own error, worded as before: the problem, its context in parentheses, the problem's position.
    private static func parserError(_ parser: yaml_parser_t) -> ComposeError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
        switch parser.error {
        case YAML_MEMORY_ERROR:
            return ComposeError("YAML error: out of memory", at: nil)
        case YAML_READER_ERROR:
            return ComposeError("unreadable YAML: \(problem)", at: nil)
        default:
            var reason = "YAML syntax error: \(problem)"
            if let context = parser.context { reason += " (\(String(cString: context)))" }
            return ComposeError(reason, at: mark(parser.problem_mark))
        }
    }

    static func mark(_ mark: yaml_mark_t) -> Mark {
        Mark(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}

/// The event-to-tree state: open collections on an explicit stack, anchors with their expanded sizes.
private struct Builder {
    /// A collection being composed.
    struct Frame {
        var isMapping: Bool
        var anchor: String?
        var mark: Mark
        var elements: [Node] = []
        var pairs: [(key: Node, value: Node)] = []
        var pendingKey: Node?
        /// First position of each scalar key, to refuse duplicates as the mapping closes.
        var keyMarks: [String: Mark] = [:]
        var duplicates: Set<String> = []
        /// Expanded nodes in this collection so far, itself included.
        var size = 1
        /// Collection levels below this one (0 when it holds only scalars), aliases expanded.
        var height = 0
    }

    /// An anchored node, its expanded size and its collection levels.
    struct Anchored {
        var node: Node
        var size: Int
        var height: Int
    }

    let limits: ComposeLimits
    var stack: [Frame] = []
    var anchors: [String: Anchored] = [:]
    var aliasAdded = 0
    var expandedNodes = 0
    var root: Node?
    var documents = 0

    init(limits: ComposeLimits) { self.limits = limits }

    mutating func take(_ event: yaml_event_t) -> Result<Void, ComposeError> {
        let mark = Composer.mark(event.start_mark)
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                return .failure(
                    ComposeError(
                        "YAML syntax error: but found another document (expected a single document in the stream)",
                        at: mark))
            }
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            // SAFETY: libyaml's scalar value is `length` bytes, valid until yaml_event_delete.
            let text = String(
                decoding: UnsafeBufferPointer(start: scalar.value, count: Int(scalar.length)), as: UTF8.self)
            if text.utf8.contains(0) {
                return .failure(
                    ComposeError("a scalar holds a NUL character (\\0), which no setting can use", at: mark))
            }
            let node = Node.scalar(Node.Scalar(text, style: Self.style(scalar.style), mark: mark))
            return completed(node, size: 1, height: 0, anchor: Self.text(scalar.anchor), alias: nil, mark)
        case YAML_ALIAS_EVENT:
            let name = Self.text(event.data.alias.anchor) ?? ""
            guard let anchored = anchors[name] else {
                return .failure(ComposeError("YAML syntax error: found undefined alias", at: mark))
            }
            aliasAdded = Self.add(aliasAdded, anchored.size - 1)
            if aliasAdded > limits.maxAliasNodes {
                return .failure(
                    ComposeError(
                        "aliases expand the document by more than \(limits.maxAliasNodes) nodes (at *\(name), which stands for \(anchored.size))",
                        at: mark))
            }
            if stack.count + anchored.height > limits.maxDepth {
                return .failure(nestingError(mark))
            }
            return completed(
                anchored.node, size: anchored.size, height: anchored.height, anchor: nil, alias: name, mark)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            guard stack.count < limits.maxDepth else { return .failure(nestingError(mark)) }
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let anchor = Self.text(isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor)
            stack.append(Frame(isMapping: isMapping, anchor: anchor, mark: mark))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { return .success(()) }
            if let first = frame.duplicates.sorted().first {
                let keys = frame.duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
                return .failure(ComposeError("duplicate key \(keys) in one mapping", at: frame.keyMarks[first]))
            }
            let node: Node =
                frame.isMapping
                ? .mapping(Node.Map(frame.pairs, mark: frame.mark))
                : .sequence(Node.List(frame.elements, mark: frame.mark))
            return completed(node, size: frame.size, height: frame.height + 1, anchor: frame.anchor, alias: nil, mark)
        default:
            break
        }
        return .success(())
    }

    private func nestingError(_ mark: Mark) -> ComposeError {
        ComposeError("the document nests mappings and lists deeper than \(limits.maxDepth) levels", at: mark)
    }

    /// Adds a finished node to the collection it is in, or makes it the document's root.
    private mutating func completed(
        _ node: Node, size: Int, height: Int, anchor: String?, alias: String?, _ mark: Mark
    ) -> Result<Void, ComposeError> {
        if let anchor { anchors[anchor] = Anchored(node: node, size: size, height: height) }
        guard !stack.isEmpty else {
            root = node
            expandedNodes = Self.add(expandedNodes, size)
            return .success(())
        }
        let last = stack.count - 1
        stack[last].size = Self.add(stack[last].size, size)
        stack[last].height = max(stack[last].height, height)
        guard stack[last].isMapping else {
            stack[last].elements.append(node)
            return .success(())
        }
        guard let key = stack[last].pendingKey else {
            if let alias {
                return .failure(
                    ComposeError("an alias (*\(alias)) cannot be a mapping key; write the key out", at: mark))
            }
            if case .scalar(let scalar) = node {
                if stack[last].keyMarks[scalar.string] == nil {
                    stack[last].keyMarks[scalar.string] = scalar.mark
                } else {
                    stack[last].duplicates.insert(scalar.string)
                }
            }
            stack[last].pendingKey = node
            return .success(())
        }
        stack[last].pairs.append((key, node))
        stack[last].pendingKey = nil
        return .success(())
    }

    private static func style(_ style: yaml_scalar_style_t) -> Node.Scalar.Style {
        switch style {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: return .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: return .literal
        case YAML_FOLDED_SCALAR_STYLE: return .folded
        default: return .plain
        }
    }

    /// Saturating: sizes of nested aliases can exceed any integer before the budget stops composing.
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
