/// The members of a JSON object, in insertion order, with lookup by key.
///
/// Objects on the control wire are usually small (a handful of members): up to `indexThreshold` members a
/// linear scan beats hashing. A peer can send far larger objects, so past that an index by key (Swift's
/// randomly seeded hashing) keeps every lookup, the parser's duplicate check and equality linear in the
/// object's size overall. Keys are unique: setting an existing key replaces its value in place.
package struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    /// One member.
    package struct Member: Sendable, Hashable {
        package var key: String
        package var value: JSON
        package init(key: String, value: JSON) {
            self.key = key
            self.value = value
        }
    }

    /// The members in order.
    package private(set) var members: [Member]
    /// Position of each key in `members`, kept once the object has more than `indexThreshold` members.
    private var index: [String: Int]?

    /// Objects larger than this keep an index by key.
    static let indexThreshold = 16

    /// An empty object.
    package init() { members = [] }

    /// An empty object with room for `minimumCapacity` members before it grows.
    package init(minimumCapacity: Int) {
        members = []
        members.reserveCapacity(minimumCapacity)
    }

    /// An object from key/value pairs; a repeated key keeps its first position and its last value.
    package init(_ pairs: some Sequence<(String, JSON)>) {
        members = []
        members.reserveCapacity(pairs.underestimatedCount)
        index = nil
        for (key, value) in pairs { self[key] = value }
    }

    /// An object from members whose keys all differ, as keys written at a call site do: nothing is searched for a
    /// repeated key, for objects built on hot paths (the event of every interrupt raised).
    package init(distinctMembers members: [Member]) {
        assert(Set(members.map(\.key)).count == members.count, "repeated key")
        self.members = members
        index = nil
        rebuildIndex()
    }

    package init(dictionaryLiteral elements: (String, JSON)...) {
        self.init(elements)
    }

    package var count: Int { members.count }
    package var isEmpty: Bool { members.isEmpty }
    /// The keys in order.
    package var keys: [String] { members.map(\.key) }

    /// The value for `key`, or nil. Assigning nil removes the member.
    package subscript(key: String) -> JSON? {
        get {
            guard let position = position(of: key) else { return nil }
            return members[position].value
        }
        set {
            if let position = position(of: key) {
                if let newValue {
                    members[position].value = newValue
                } else {
                    members.remove(at: position)
                    rebuildIndex()
                }
            } else if let newValue {
                appendUnchecked(key, newValue)
            }
        }
    }

    /// True when a member named `key` exists (even if its value is `null`).
    package func contains(_ key: String) -> Bool { position(of: key) != nil }

    /// Removes and returns the value for `key`.
    @discardableResult
    package mutating func removeValue(forKey key: String) -> JSON? {
        guard let position = position(of: key) else { return nil }
        let value = members.remove(at: position).value
        rebuildIndex()
        return value
    }

    /// Appends without checking for an existing key; only the parser uses it, after its own duplicate check.
    mutating func appendUnchecked(_ key: String, _ value: JSON) {
        members.append(Member(key: key, value: value))
        if index != nil {
            index![key] = members.count - 1
        } else if members.count > Self.indexThreshold {
            rebuildIndex()
        }
    }

    private func position(of key: String) -> Int? {
        if let index { return index[key] }
        // Most keys differ in length, which is known without comparing them byte by byte.
        let length = key.utf8.count
        return members.firstIndex { $0.key.utf8.count == length && $0.key == key }
    }

    private mutating func rebuildIndex() {
        guard members.count > Self.indexThreshold else {
            index = nil
            return
        }
        var positions: [String: Int] = [:]
        positions.reserveCapacity(members.count)
        for (position, member) in members.enumerated() { positions[member.key] = position }
        index = positions
    }

    package func makeIterator() -> some IteratorProtocol<(key: String, value: JSON)> {
        members.lazy.map { (key: $0.key, value: $0.value) }.makeIterator()
    }

    // Order-insensitive equality: member order carries no meaning in JSON (RFC 8259 §4).
    package static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for member in lhs.members {
            guard let other = rhs[member.key], other == member.value else { return false }
        }
        return true
    }

    package func hash(into hasher: inout Hasher) {
        // Combine member hashes commutatively so that equal objects in different orders hash alike.
        var sum = 0
        for member in members {
            var memberHasher = Hasher()
            memberHasher.combine(member.key)
            memberHasher.combine(member.value)
            sum = sum &+ memberHasher.finalize()
        }
        hasher.combine(count)
        hasher.combine(sum)
    }

    package var description: String { JSON.object(self).serialized() }
}
