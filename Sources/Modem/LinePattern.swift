/// A `modem.wait` pattern (`Protocols/control.md` §14.15): a regular expression in a subset without
/// backreferences or lookaround, compiled to a Thompson automaton and matched anywhere in a text in time linear in
/// the text's length.
///
/// The text a pattern is matched against (an AT line, an SMS) comes from a guest or an unauthenticated AT client,
/// and the match runs on the hub's loop. A backtracking engine (Swift's `Regex`, which this replaced) takes time
/// exponential in the text for patterns like `^AT(a+)+$`, and quadratic for `X.*Y` against a long SMS: seconds to
/// indefinitely on the loop. Here every scalar of the text costs one cached table step, or, when the step is not
/// cached yet, at most two visits of each instruction of the program (`maxProgramSize` instructions): one to step
/// the current state, one to close the next. With the start and the end, a match is bounded by
/// 2 × (scalars in the text + 2) × (program size) instruction visits, whatever the pattern.
///
/// Characters are Unicode scalars. Only whether a match exists is reported (a lazy quantifier gives the same
/// answer as a greedy one), so the automaton needs no capture positions.
package final class LinePattern {
    /// The longest pattern accepted, in UTF-8 bytes.
    package static let maxPatternBytes = 512
    /// The most instructions a pattern may compile to, repetitions expanded: the bound on one step's work.
    package static let maxProgramSize = 1024
    /// The largest count in `{n}`, `{n,}` and `{n,m}`.
    package static let maxRepeatCount = 255
    /// Group nesting beyond this is refused (the parser recurses once per level).
    package static let maxNestingDepth = 64
    /// Cached automaton states before the cache is dropped and rebuilt (bounds its memory: at most this many
    /// states of at most `maxProgramSize` entries and 128 transitions each).
    package static let maxCachedStates = 256

    /// Why a pattern was refused, and the UTF-8 offset in the pattern where the parser stopped.
    package struct SyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
        package let offset: Int
        package let reason: String
        package var description: String { "\(reason) (at byte \(offset))" }
    }

    /// The pattern as the client gave it.
    package let source: String
    let program: [Instruction]
    private var cache: StateCache

    package init(_ source: String) throws(SyntaxError) {
        self.source = source
        guard source.utf8.count <= LinePattern.maxPatternBytes else {
            throw SyntaxError(offset: 0, reason: "a pattern is at most \(LinePattern.maxPatternBytes) bytes")
        }
        var parser = PatternParser(source)
        let tree = try parser.parsePattern()
        var compiler = PatternCompiler()
        try compiler.emit(tree)
        try compiler.append(.match)
        program = compiler.program
        cache = StateCache(program: program)
    }

    /// The instructions the pattern compiled to (what one uncached step may visit).
    package var programSize: Int { program.count }

    /// Instructions visited building automaton states since the pattern was compiled: the work a match did
    /// beyond its cached steps, which tests and the fuzzer hold to the bound above.
    package var instructionVisits: Int { cache.instructionVisits }

    /// How many times the state cache filled up and was dropped.
    package var cacheResets: Int { cache.resets }

    /// Whether the pattern matches somewhere in `text`.
    package func matches(_ text: String) -> Bool {
        var state = cache.startState()
        var scalars = text.unicodeScalars.makeIterator()
        guard var scalar = scalars.next() else { return cache.matchesEmptyText() }
        while true {
            if cache.isMatch(state) { return true }
            state = cache.next(state, scalar.value)
            guard let following = scalars.next() else { break }
            scalar = following
        }
        return cache.isMatch(state) || cache.matchesAtEnd(state)
    }
}

// MARK: - The program

/// A set of scalars as sorted, disjoint, non-adjacent ranges.
struct ScalarSet: Equatable {
    var ranges: [ClosedRange<UInt32>]

    static let maxScalar: UInt32 = 0x10_FFFF
    static let any = ScalarSet(ranges: [0...maxScalar])
    /// `.`: every scalar but line feed.
    static let anyButLineFeed = ScalarSet(ranges: [0...9, 11...maxScalar])
    static let digits = ScalarSet(ranges: [48...57])
    static let wordCharacters = ScalarSet(ranges: [48...57, 65...90, 95...95, 97...122])
    /// Space, tab, line feed, vertical tab, form feed, carriage return.
    static let whitespace = ScalarSet(ranges: [9...13, 32...32])

    init(ranges: [ClosedRange<UInt32>]) { self.ranges = ScalarSet.normalised(ranges) }
    init(_ scalar: UInt32) { ranges = [scalar...scalar] }

    func contains(_ scalar: UInt32) -> Bool {
        // Binary search: a class with many ranges stays one logarithmic test per scalar.
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < scalar {
                low = middle + 1
            } else if ranges[middle].lowerBound > scalar {
                high = middle
            } else {
                return true
            }
        }
        return false
    }

    var complement: ScalarSet {
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in ranges {
            if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
            guard range.upperBound < ScalarSet.maxScalar else { return ScalarSet(ranges: result) }
            next = range.upperBound + 1
        }
        result.append(next...ScalarSet.maxScalar)
        return ScalarSet(ranges: result)
    }

    func union(_ other: ScalarSet) -> ScalarSet { ScalarSet(ranges: ranges + other.ranges) }

    private static func normalised(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var merged: [ClosedRange<UInt32>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }
}

enum Instruction: Equatable {
    /// Consume one scalar in the set, go on at the next instruction.
    case scalar(ScalarSet)
    /// Go on at both.
    case split(Int, Int)
    case jump(Int)
    /// Go on only at the start of the text.
    case textStart
    /// Go on only at the end of the text.
    case textEnd
    case match
}

/// The parsed pattern.
indirect enum PatternNode {
    case scalars(ScalarSet)
    case textStart
    case textEnd
    case sequence([PatternNode])
    case alternatives([PatternNode])
    /// `maximum` nil: unbounded.
    case repeated(PatternNode, minimum: Int, maximum: Int?)
}

// MARK: - Compiling

/// Thompson's construction, with counted repetitions written out and the program's size checked at every
/// instruction, so `(a{255}){255}` stops at the limit instead of allocating 65,025 copies first. Nodes written
/// out are counted too: a repeated group that compiles to nothing (`(){255}`) adds no instruction, and nested
/// five deep it was 255^5 copies of nothing, written out on the loop.
struct PatternCompiler {
    private(set) var program: [Instruction] = []
    private var nodesEmitted = 0
    /// Nodes written out, repetitions included, before the pattern is refused.
    static let maxNodesEmitted = 8 * LinePattern.maxProgramSize

    mutating func append(_ instruction: Instruction) throws(LinePattern.SyntaxError) {
        guard program.count < LinePattern.maxProgramSize else {
            throw LinePattern.SyntaxError(
                offset: 0,
                reason: "the pattern compiles to more than \(LinePattern.maxProgramSize) instructions "
                    + "(repetitions are written out: a{100} is 100 copies of a)")
        }
        program.append(instruction)
    }

    /// An instruction whose targets are set once they are known.
    private mutating func placeholder() throws(LinePattern.SyntaxError) -> Int {
        try append(.jump(-1))
        return program.count - 1
    }

    mutating func emit(_ node: PatternNode) throws(LinePattern.SyntaxError) {
        nodesEmitted += 1
        guard nodesEmitted <= PatternCompiler.maxNodesEmitted else {
            throw LinePattern.SyntaxError(
                offset: 0,
                reason: "the pattern expands to more than \(PatternCompiler.maxNodesEmitted) parts "
                    + "(repetitions are written out: (x){100} is 100 copies of x)")
        }
        switch node {
        case .scalars(let set): try append(.scalar(set))
        case .textStart: try append(.textStart)
        case .textEnd: try append(.textEnd)
        case .sequence(let nodes):
            for node in nodes { try emit(node) }
        case .alternatives(let branches):
            var jumpsToEnd: [Int] = []
            for (index, branch) in branches.enumerated() {
                if index == branches.count - 1 {
                    try emit(branch)
                    break
                }
                let split = try placeholder()
                try emit(branch)
                jumpsToEnd.append(try placeholder())
                program[split] = .split(split + 1, program.count)
            }
            for jump in jumpsToEnd { program[jump] = .jump(program.count) }
        case .repeated(let body, let minimum, let maximum):
            for _ in 0..<minimum { try emit(body) }
            if let maximum {
                // Each optional copy may skip to the end: (x(x)?)? as one chain.
                var skips: [Int] = []
                for _ in minimum..<maximum {
                    skips.append(try placeholder())
                    try emit(body)
                }
                for skip in skips { program[skip] = .split(skip + 1, program.count) }
            } else {
                let loop = try placeholder()
                try emit(body)
                try append(.jump(loop))
                program[loop] = .split(loop + 1, program.count)
            }
        }
    }
}

// MARK: - Parsing

/// Recursive descent over the pattern's scalars (`Protocols/control.md` §14.15 lists the syntax). Anything
/// outside the subset is refused with its offset rather than read some other way, so a pattern written for
/// another engine fails loudly instead of matching something else.
struct PatternParser {
    private let scalars: [Unicode.Scalar]
    /// The UTF-8 offset of each scalar, for errors.
    private let offsets: [Int]
    private var position = 0
    private var depth = 0

    init(_ source: String) {
        scalars = Array(source.unicodeScalars)
        var offsets: [Int] = []
        var offset = 0
        for scalar in scalars {
            offsets.append(offset)
            offset += UTF8.width(scalar)
        }
        offsets.append(offset)
        self.offsets = offsets
    }

    private var atEnd: Bool { position >= scalars.count }
    private var current: Unicode.Scalar? { atEnd ? nil : scalars[position] }

    private func error(_ reason: String, at index: Int? = nil) -> LinePattern.SyntaxError {
        LinePattern.SyntaxError(offset: offsets[min(index ?? position, offsets.count - 1)], reason: reason)
    }

    mutating func parsePattern() throws(LinePattern.SyntaxError) -> PatternNode {
        let node = try parseAlternatives()
        if !atEnd { throw error("unbalanced ')'") }
        return node
    }

    private mutating func parseAlternatives() throws(LinePattern.SyntaxError) -> PatternNode {
        var branches = [try parseSequence()]
        while current == "|" {
            position += 1
            branches.append(try parseSequence())
        }
        return branches.count == 1 ? branches[0] : .alternatives(branches)
    }

    private mutating func parseSequence() throws(LinePattern.SyntaxError) -> PatternNode {
        var items: [PatternNode] = []
        while let scalar = current, scalar != "|", scalar != ")" {
            let start = position
            let atom = try parseAtom()
            items.append(try parseQuantifiers(atom, start: start))
        }
        return .sequence(items)
    }

    private mutating func parseAtom() throws(LinePattern.SyntaxError) -> PatternNode {
        guard let scalar = current else { throw error("unexpected end of the pattern") }
        switch scalar {
        case "(":
            return try parseGroup()
        case "[":
            return .scalars(try parseClass())
        case ".":
            position += 1
            return .scalars(.anyButLineFeed)
        case "^":
            position += 1
            return .textStart
        case "$":
            position += 1
            return .textEnd
        case "\\":
            return .scalars(try parseEscape())
        case "*", "+", "?":
            throw error("'\(scalar)' has nothing to repeat")
        case "{":
            throw error("'{' has nothing to repeat; write \\{ for the character")
        default:
            position += 1
            return .scalars(ScalarSet(scalar.value))
        }
    }

    private mutating func parseGroup() throws(LinePattern.SyntaxError) -> PatternNode {
        let open = position
        position += 1
        if current == "?" {
            guard position + 1 < scalars.count, scalars[position + 1] == ":" else {
                throw error(
                    "only (...) and (?:...) groups are supported (no lookaround, named groups or flags)", at: open)
            }
            position += 2
        }
        depth += 1
        guard depth <= LinePattern.maxNestingDepth else {
            throw error("groups nest at most \(LinePattern.maxNestingDepth) deep", at: open)
        }
        let inner = try parseAlternatives()
        guard current == ")" else { throw error("unbalanced '('", at: open) }
        position += 1
        depth -= 1
        return inner
    }

    /// `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, each optionally lazy (`?` after it); one quantifier per atom.
    private mutating func parseQuantifiers(_ atom: PatternNode, start: Int) throws(LinePattern.SyntaxError)
        -> PatternNode
    {
        let bounds: (Int, Int?)
        switch current {
        case "*":
            bounds = (0, nil)
            position += 1
        case "+":
            bounds = (1, nil)
            position += 1
        case "?":
            bounds = (0, 1)
            position += 1
        case "{":
            bounds = try parseCount()
        default:
            return atom
        }
        if case .textStart = atom { throw error("an anchor cannot be repeated", at: start) }
        if case .textEnd = atom { throw error("an anchor cannot be repeated", at: start) }
        if current == "?" { position += 1 }  // lazy: the same answer to "is there a match"
        switch current {
        case "+": throw error("possessive quantifiers are not supported")
        case "*", "?", "{": throw error("a quantifier cannot follow another; group the first: (a*)*")
        default: break
        }
        return .repeated(atom, minimum: bounds.0, maximum: bounds.1)
    }

    private mutating func parseCount() throws(LinePattern.SyntaxError) -> (Int, Int?) {
        let open = position
        position += 1
        let badCount = "'{' starts a count {n}, {n,} or {n,m} with n <= m <= \(LinePattern.maxRepeatCount)"
        guard let minimum = parseNumber() else { throw error(badCount + "; write \\{ for the character", at: open) }
        var maximum: Int? = minimum
        if current == "," {
            position += 1
            maximum = current == "}" ? nil : parseNumber()
            if maximum == nil, current != "}" { throw error(badCount, at: open) }
        }
        guard current == "}" else { throw error(badCount, at: open) }
        position += 1
        guard minimum <= LinePattern.maxRepeatCount, (maximum ?? minimum) <= LinePattern.maxRepeatCount,
            minimum <= (maximum ?? minimum)
        else { throw error(badCount, at: open) }
        return (minimum, maximum)
    }

    /// Decimal digits, at most four (a count is range-checked after; five digits are already out of range).
    private mutating func parseNumber() -> Int? {
        var value = 0
        var digits = 0
        while let scalar = current, ("0"..."9").contains(scalar), digits < 4 {
            value = value * 10 + Int(scalar.value - 48)
            digits += 1
            position += 1
        }
        if digits == 4, let scalar = current, ("0"..."9").contains(scalar) { return Int.max }
        return digits == 0 ? nil : value
    }

    /// After `\`: a class escape or one character. Letters and digits other than the listed escapes are refused
    /// (a backreference `\1`, `\b`, `\p{...}` mean something here that this subset does not do).
    private mutating func parseEscape() throws(LinePattern.SyntaxError) -> ScalarSet {
        let backslash = position
        position += 1
        guard let scalar = current else { throw error("'\\' at the end of the pattern", at: backslash) }
        position += 1
        switch scalar {
        case "d": return .digits
        case "D": return ScalarSet.digits.complement
        case "w": return .wordCharacters
        case "W": return ScalarSet.wordCharacters.complement
        case "s": return .whitespace
        case "S": return ScalarSet.whitespace.complement
        case "t": return ScalarSet(9)
        case "n": return ScalarSet(10)
        case "f": return ScalarSet(12)
        case "r": return ScalarSet(13)
        default:
            let alphanumeric =
                ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
            guard scalar.value >= 32, scalar.value < 127, !alphanumeric else {
                throw error(
                    "unsupported escape '\\\(scalar)' (supported: \\d \\D \\w \\W \\s \\S \\t \\n \\f \\r "
                        + "and \\ before punctuation)", at: backslash)
            }
            return ScalarSet(scalar.value)
        }
    }

    /// `[...]` or `[^...]`: characters, ranges `a-z` and class escapes. `]` first is a character; `-` first or
    /// last is a character. An unescaped `[` and the doubled `--`, `&&`, `~~` are refused: other engines read
    /// them as nested classes and set operations.
    private mutating func parseClass() throws(LinePattern.SyntaxError) -> ScalarSet {
        let open = position
        position += 1
        var negated = false
        if current == "^" {
            negated = true
            position += 1
        }
        var set = ScalarSet(ranges: [])
        var first = true
        while true {
            guard let scalar = current else { throw error("unbalanced '['", at: open) }
            if scalar == "]", !first { break }
            first = false
            if scalar == "[" { throw error("write \\[ for '[' inside a class") }
            if let next = peek(1), scalar == next, ["-", "&", "~"].contains(scalar) {
                throw error("'\(scalar)\(scalar)' inside a class is refused (other engines read it as a set operation)")
            }
            let element = try parseClassElement()
            guard current == "-", let after = peek(1), after != "]" else {
                set = set.union(element)
                continue
            }
            // A range: both ends single characters, in order.
            let dash = position
            if after == "-" {
                throw error("'--' inside a class is refused (other engines read it as a set operation)")
            }
            position += 1
            guard element.ranges.count == 1, element.ranges[0].count == 1 else {
                throw error("a range needs a single character before '-'", at: dash)
            }
            let upper = try parseClassElement()
            guard upper.ranges.count == 1, upper.ranges[0].count == 1,
                element.ranges[0].lowerBound <= upper.ranges[0].lowerBound
            else { throw error("a range needs a single character after '-', not below the one before", at: dash) }
            set = set.union(ScalarSet(ranges: [element.ranges[0].lowerBound...upper.ranges[0].lowerBound]))
        }
        position += 1
        return negated ? set.complement : set
    }

    private mutating func parseClassElement() throws(LinePattern.SyntaxError) -> ScalarSet {
        guard let scalar = current else { throw error("unbalanced '['") }
        if scalar == "\\" { return try parseEscape() }
        if scalar == "[" { throw error("write \\[ for '[' inside a class") }
        position += 1
        return ScalarSet(scalar.value)
    }

    private func peek(_ ahead: Int) -> Unicode.Scalar? {
        position + ahead < scalars.count ? scalars[position + ahead] : nil
    }
}

// MARK: - Matching

/// The automaton's states, built as the text asks for them: a state is the set of instructions (scalar tests and
/// `match`, plus `textEnd` waiting for the end) the automaton can be in, closed under jumps and splits, with the
/// pattern's start added at every position (a match may begin anywhere). Transitions on ASCII scalars are cached
/// in a table; others are computed each time (one pass over the state's instructions).
struct StateCache {
    typealias State = Int

    private let program: [Instruction]
    private var sets: [[Int32]] = []
    private var index: [[Int32]: State] = [:]
    /// `transitions[state * 128 + scalar]`: the next state, or -1 before it is computed.
    private var transitions: [Int32] = []
    private var matching: [Bool] = []
    /// `matchesAtEnd`'s answer per state, once asked.
    private var matchingAtEnd: [Bool?] = []
    private var emptyTextMatches: Bool?
    /// Scratch for closures: `seen[pc] == generation` marks a visited instruction.
    private var seen: [UInt32]
    private var generation: UInt32 = 0
    private var stack: [Int32] = []
    private var start: State = -1
    private(set) var instructionVisits = 0
    private(set) var resets = 0

    init(program: [Instruction]) {
        self.program = program
        seen = Array(repeating: 0, count: program.count)
    }

    mutating func startState() -> State {
        if start < 0 || start >= sets.count {
            start = state(for: closure(of: [0], atStart: true, atEnd: false))
        }
        return start
    }

    func isMatch(_ state: State) -> Bool { matching[state] }

    /// Whether the state matches once the text ends: one of its `textEnd` instructions leads to `match`.
    mutating func matchesAtEnd(_ state: State) -> Bool {
        if let known = matchingAtEnd[state] { return known }
        let waiting = sets[state].filter { program[Int($0)] == .textEnd }.map { $0 + 1 }
        let answer = !waiting.isEmpty && closure(of: waiting, atStart: false, atEnd: true).contains(matchPC)
        matchingAtEnd[state] = answer
        return answer
    }

    mutating func matchesEmptyText() -> Bool {
        if let emptyTextMatches { return emptyTextMatches }
        let answer = closure(of: [0], atStart: true, atEnd: true).contains(matchPC)
        emptyTextMatches = answer
        return answer
    }

    private var matchPC: Int32 { Int32(program.count - 1) }

    mutating func next(_ state: State, _ scalar: UInt32) -> State {
        if scalar < 128, transitions[state &* 128 &+ Int(scalar)] >= 0 {
            return Int(transitions[state &* 128 &+ Int(scalar)])
        }
        var targets: [Int32] = []
        instructionVisits &+= sets[state].count
        for pc in sets[state] {
            if case .scalar(let set) = program[Int(pc)], set.contains(scalar) { targets.append(pc + 1) }
        }
        targets.append(0)  // a match may start at the next position
        let closed = closure(of: targets, atStart: false, atEnd: false)
        if sets.count >= LinePattern.maxCachedStates, index[closed] == nil {
            // Bounded memory: start the cache again. The current state's number is no longer valid, so the
            // result is the first state of the new cache; the start state is rebuilt when next asked for.
            sets.removeAll(keepingCapacity: true)
            index.removeAll(keepingCapacity: true)
            transitions.removeAll(keepingCapacity: true)
            matching.removeAll(keepingCapacity: true)
            matchingAtEnd.removeAll(keepingCapacity: true)
            start = -1
            resets += 1
            return self.state(for: closed)
        }
        let next = self.state(for: closed)
        if scalar < 128 { transitions[state &* 128 &+ Int(scalar)] = Int32(next) }
        return next
    }

    private mutating func state(for set: [Int32]) -> State {
        if let known = index[set] { return known }
        let state = sets.count
        sets.append(set)
        index[set] = state
        matching.append(set.contains(matchPC))
        matchingAtEnd.append(nil)
        transitions.append(contentsOf: repeatElement(-1, count: 128))
        return state
    }

    /// The instructions reachable from `pcs` through jumps, splits and the anchors that hold here, keeping the
    /// ones that consume a scalar, `match`, and (before the end) `textEnd`; sorted, so equal sets are one state.
    private mutating func closure(of pcs: [Int32], atStart: Bool, atEnd: Bool) -> [Int32] {
        generation &+= 1
        if generation == 0 {
            for pc in seen.indices { seen[pc] = 0 }
            generation = 1
        }
        var result: [Int32] = []
        stack.removeAll(keepingCapacity: true)
        stack.append(contentsOf: pcs.reversed())
        while let pc = stack.popLast() {
            guard seen[Int(pc)] != generation else { continue }
            seen[Int(pc)] = generation
            instructionVisits &+= 1
            switch program[Int(pc)] {
            case .scalar, .match: result.append(pc)
            case .jump(let target): stack.append(Int32(target))
            case .split(let first, let second):
                stack.append(Int32(second))
                stack.append(Int32(first))
            case .textStart: if atStart { stack.append(pc + 1) }
            case .textEnd:
                if atEnd { stack.append(pc + 1) } else { result.append(pc) }
            }
        }
        result.sort()
        return result
    }
}
