import Testing
import VectorSupport
import YAML

/// The composer against the trees the configuration loader composed before it (with Yams 6.2.2, whose
/// output `Cases/*.tree` records): same scalars, styles, positions and errors, for the repository's
/// configurations and for cases that exercise YAML's corners.
@Suite struct ComposerTests {
    static let cases = "Tests/YAMLTests/Cases"

    /// The text form of a tree or an error, as the recorded `.tree` files spell it.
    static func dump(_ text: String) -> String {
        do {
            guard let composed = try Composer.compose(text) else { return "EMPTY\n" }
            var out = ""
            dump(composed.root, depth: 0, into: &out)
            return out
        } catch {
            let at = error.mark.map { "\($0.line):\($0.column)" } ?? "-"
            return "ERROR \(at) \(error.reason)\n"
        }
    }

    static func dump(_ node: Node, depth: Int, into out: inout String) {
        let pad = String(repeating: " ", count: depth * 2)
        let at = "\(node.mark.line):\(node.mark.column)"
        switch node {
        case .scalar(let scalar):
            out += "\(pad)S \(style(scalar.style)) \(at) \"\(escape(scalar.string))\"\n"
        case .sequence(let list):
            out += "\(pad)Q \(at)\n"
            for element in list { dump(element, depth: depth + 1, into: &out) }
        case .mapping(let map):
            out += "\(pad)M \(at)\n"
            for (key, value) in map {
                dump(key, depth: depth + 1, into: &out)
                dump(value, depth: depth + 1, into: &out)
            }
        }
    }

    static func style(_ style: Node.Scalar.Style) -> String {
        switch style {
        case .plain: return "plain"
        case .singleQuoted: return "single"
        case .doubleQuoted: return "double"
        case .literal: return "literal"
        case .folded: return "folded"
        }
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    static func read(_ path: String) throws -> String {
        try #require(RepositoryFiles.read(RepositoryFiles.root + "/" + path), "cannot read \(path)")
    }

    @Test func everyCaseComposesAsBefore() throws {
        let names = RepositoryFiles.list(Self.cases).filter { $0.hasSuffix(".yaml") }
        #expect(names.count >= 25)
        for name in names {
            let expected = try Self.read("\(Self.cases)/\(name).tree")
            #expect(Self.dump(try Self.read("\(Self.cases)/\(name)")) == expected, "\(name)")
        }
    }

    /// Every configuration of the repository (examples, container and Kubernetes templates, the e2e suite's
    /// file) composes to the tree it composed to before.
    @Test func everyConfigurationOfTheRepositoryComposesAsBefore() throws {
        let recorded = RepositoryFiles.list(Self.cases + "/examples")
        #expect(recorded.count == 9)
        let examples = RepositoryFiles.list("Deploy/examples").filter { $0.hasSuffix(".yaml") }
        #expect(examples.allSatisfy { recorded.contains("Deploy_examples_" + $0.dropLast(5) + ".tree") })
        for tree in recorded {
            // Deploy_examples_minimal.tree is Deploy/examples/minimal.yaml; names hold no other underscore
            // than the separators.
            let path = String(tree.dropLast(5).map { $0 == "_" ? "/" : $0 }) + ".yaml"
            let expected = try Self.read("\(Self.cases)/examples/\(tree)")
            #expect(Self.dump(try Self.read(path)) == expected, "\(path)")
        }
    }
}
