/// Where a node starts in the text: line and column from 1, columns counted in Unicode scalars (libyaml's count).
package struct Mark: Equatable, Sendable {
    package var line: Int
    package var column: Int

    package init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
}

/// A composed YAML node: aliases are already replaced by the node their anchor names, and no scalar is
/// resolved to a type — a scalar keeps its text and its style, and the reader decides what it may mean (a
/// quoted `"123"` stays a string, a plain `yes` is only the word yes).
package enum Node: Sendable {
    case scalar(Scalar)
    case mapping(Map)
    case sequence(List)

    package var mark: Mark {
        switch self {
        case .scalar(let scalar): return scalar.mark
        case .mapping(let map): return map.mark
        case .sequence(let list): return list.mark
        }
    }

    /// The text of a scalar; nil for a collection.
    package var string: String? {
        guard case .scalar(let scalar) = self else { return nil }
        return scalar.string
    }

    package struct Scalar: Sendable {
        package enum Style: Sendable {
            case plain, singleQuoted, doubleQuoted, literal, folded
        }

        package var string: String
        package var style: Style
        package var mark: Mark

        package init(_ string: String, style: Style = .plain, mark: Mark = Mark(line: 1, column: 1)) {
            self.string = string
            self.style = style
            self.mark = mark
        }
    }

    /// A mapping's entries in document order (keys are unique scalars or any other node).
    package struct Map: RandomAccessCollection, Sendable {
        package var pairs: [(key: Node, value: Node)]
        package var mark: Mark

        package init(_ pairs: [(key: Node, value: Node)], mark: Mark) {
            self.pairs = pairs
            self.mark = mark
        }

        package var startIndex: Int { pairs.startIndex }
        package var endIndex: Int { pairs.endIndex }
        package subscript(position: Int) -> (key: Node, value: Node) { pairs[position] }
    }

    /// A sequence's elements in document order.
    package struct List: RandomAccessCollection, Sendable {
        package var elements: [Node]
        package var mark: Mark

        package init(_ elements: [Node], mark: Mark) {
            self.elements = elements
            self.mark = mark
        }

        package var startIndex: Int { elements.startIndex }
        package var endIndex: Int { elements.endIndex }
        package subscript(position: Int) -> Node { elements[position] }
    }
}
