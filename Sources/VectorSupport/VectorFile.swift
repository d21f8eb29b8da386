/// The one test-vector format of `Protocols/vectors/` (described in `Protocols/vectors/README.md`):
/// `name:` starts a vector, `key: value` lines give its fields, a line that starts with a space or tab
/// continues the field above, `#` in the first column starts a comment, blank lines are ignored.
/// Bytes are written in a `hex` field, where `#` also starts a comment to the end of the line.
package struct TestVector: Sendable, CustomStringConvertible {
    package var name: String
    /// Field values in file order; a continued field is its lines joined with "\n".
    package var fields: [(key: String, value: String)]
    /// The line of the file where the vector starts (`name:`), for messages.
    package var line: Int

    package init(name: String, fields: [(key: String, value: String)] = [], line: Int = 0) {
        self.name = name
        self.fields = fields
        self.line = line
    }

    package var description: String { name }

    package subscript(key: String) -> String? { fields.first { $0.key == key }?.value }

    /// The field's value, or an error naming the vector when it is absent.
    package func text(_ key: String) throws -> String {
        guard let value = self[key] else { throw VectorFormatError.missingField(vector: name, key: key) }
        return value
    }

    /// The bytes of a hex field (`hex` unless named): whitespace between digits, `#` comments to the end of
    /// each line, and `-` for an empty run are allowed.
    package func bytes(_ key: String = "hex") throws -> [UInt8] {
        let value = try text(key)
        guard let bytes = HexText.decode(value) else { throw VectorFormatError.notHex(vector: name, key: key) }
        return bytes
    }

    /// The bytes of a text field written with C-style escapes (`\r`, `\n`, `\t`, `\\`, `\xHH`).
    package func escapedBytes(_ key: String) throws -> [UInt8] {
        let value = try text(key)
        guard let bytes = HexText.unescape(value) else { throw VectorFormatError.badEscape(vector: name, key: key) }
        return bytes
    }
}

package enum VectorFormatError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String)
    case fieldOutsideVector(line: Int)
    case continuationWithoutField(line: Int)
    case notAField(line: Int)
    case duplicateName(String, line: Int)
    case missingField(vector: String, key: String)
    case notHex(vector: String, key: String)
    case badEscape(vector: String, key: String)
    case noSuchVector(String)

    package var description: String {
        switch self {
        case .unreadable(let path): "cannot read \(path)"
        case .fieldOutsideVector(let line): "line \(line): a field before the first `name:`"
        case .continuationWithoutField(let line): "line \(line): a continuation line with no field above it"
        case .notAField(let line): "line \(line): neither `key: value`, a continuation, a comment nor blank"
        case .duplicateName(let name, let line): "line \(line): vector name \(name) used twice"
        case .missingField(let vector, let key): "vector \(vector) has no field \(key)"
        case .notHex(let vector, let key): "vector \(vector): field \(key) is not hex"
        case .badEscape(let vector, let key): "vector \(vector): field \(key) has a bad escape"
        case .noSuchVector(let name): "no vector named \(name)"
        }
    }
}

/// One vector set: a file of `Protocols/vectors/`.
package struct VectorSet: Sendable {
    /// The comment lines before the first vector (the set's description), without their `#`.
    package var header: [String]
    package var vectors: [TestVector]

    /// Parses the text of a vector file.
    package init(parsing text: String) throws {
        header = []
        vectors = []
        var names: Set<String> = []
        var lastKey: String?
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            if line.hasPrefix("#") {
                if vectors.isEmpty { header.append(String(line.dropFirst()).trimmingLeadingSpace()) }
                continue
            }
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            if line.first == " " || line.first == "\t" {
                guard let key = lastKey, !vectors.isEmpty else {
                    throw VectorFormatError.continuationWithoutField(line: number)
                }
                let last = vectors.count - 1
                let field = vectors[last].fields.count - 1
                precondition(vectors[last].fields[field].key == key)
                let previous = vectors[last].fields[field].value
                let piece = String(line).trimmingLeadingSpace()
                vectors[last].fields[field].value = previous.isEmpty ? piece : previous + "\n" + piece
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { throw VectorFormatError.notAField(line: number) }
            let key = String(line[..<colon])
            var value = line[line.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
            if key == "name" {
                let name = String(value)
                guard names.insert(name).inserted else { throw VectorFormatError.duplicateName(name, line: number) }
                vectors.append(TestVector(name: name, line: number))
                lastKey = nil
                continue
            }
            guard !vectors.isEmpty else { throw VectorFormatError.fieldOutsideVector(line: number) }
            vectors[vectors.count - 1].fields.append((key: key, value: String(value)))
            lastKey = key
        }
    }

    /// Loads `Protocols/vectors/<path>` from this repository.
    package init(_ path: String) throws {
        let full = RepositoryFiles.root + "/Protocols/vectors/" + path
        guard let text = RepositoryFiles.read(full) else { throw VectorFormatError.unreadable(path: full) }
        try self.init(parsing: text)
    }

    package subscript(name: String) -> TestVector? { vectors.first { $0.name == name } }

    /// The bytes of the vector `name` in `Protocols/vectors/<path>`.
    package static func bytes(_ path: String, _ name: String, key: String = "hex") throws -> [UInt8] {
        try VectorSet(path).vector(name).bytes(key)
    }

    /// The vector named `name`, or an error.
    package func vector(_ name: String) throws -> TestVector {
        guard let vector = self[name] else { throw VectorFormatError.noSuchVector(name) }
        return vector
    }
}

extension String {
    fileprivate func trimmingLeadingSpace() -> String {
        String(drop { $0 == " " || $0 == "\t" })
    }
}
