/// The chunking-invariance check every stream decoder's tests make: the same bytes fed whole, a byte at a
/// time, split in two at every position, in repeating chunk-size patterns and at seeded random positions
/// must give the same result (messages, errors, what stays buffered). A decoder that reads a length or a
/// delimiter across a read boundary differently fails here.
package enum Chunking {
    /// One way of cutting the input: the sizes of its pieces, in order (the last piece may be shorter).
    package struct Cut: Sendable, CustomStringConvertible {
        package var label: String
        package var sizes: [Int]
        package var description: String { label }
    }

    /// What a feed gave: its value, or the error it threw (compared by description).
    package enum Outcome<Value: Equatable>: Equatable {
        case value(Value)
        case error(String)
    }

    /// The cuts of `count` bytes: whole, byte at a time, in two at every `splitStride`-th position (and at
    /// the end), each of `patterns` repeated, and `randomCuts` cuts at positions drawn from `seed`.
    package static func cuts(
        of count: Int, patterns: [[Int]] = [], randomCuts: Int = 16, seed: UInt64 = 1, splitStride: Int = 1
    ) -> [Cut] {
        var cuts = [Cut(label: "whole", sizes: [count])]
        if count > 1 { cuts.append(Cut(label: "byte at a time", sizes: Array(repeating: 1, count: count))) }
        for split in Set(Array(stride(from: 0, through: count, by: max(1, splitStride))) + [count]).sorted() {
            cuts.append(Cut(label: "split at \(split)", sizes: [split, count - split]))
        }
        for pattern in patterns where pattern.allSatisfy({ $0 > 0 }) && !pattern.isEmpty {
            var sizes: [Int] = []
            var total = 0
            var index = 0
            while total < count {
                sizes.append(pattern[index % pattern.count])
                total += pattern[index % pattern.count]
                index += 1
            }
            cuts.append(Cut(label: "chunks of \(pattern)", sizes: sizes))
        }
        var state = seed | 1
        for round in 0..<(count > 1 ? randomCuts : 0) {
            var positions: Set<Int> = []
            // xorshift64: reproducible cuts without a random source the tests would have to seed.
            for _ in 0..<(1 + round % 5) {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                positions.insert(Int(state % UInt64(count)))
            }
            var previous = 0
            var sizes: [Int] = []
            for position in positions.sorted() {
                sizes.append(position - previous)
                previous = position
            }
            sizes.append(count - previous)
            cuts.append(Cut(label: "random cut at \(positions.sorted())", sizes: sizes))
        }
        return cuts
    }

    /// The input cut into pieces of the given sizes (empty pieces included: a decoder must accept them).
    package static func pieces(_ input: [UInt8], _ sizes: [Int]) -> [ArraySlice<UInt8>] {
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        for size in sizes {
            let end = min(input.count, start + max(0, size))
            pieces.append(input[start..<end])
            start = end
        }
        if start < input.count { pieces.append(input[start...]) }
        return pieces
    }

    /// Feeds `input` to a fresh decoder under every cut (`feed` makes the decoder, feeds it the pieces in
    /// order and returns what it gave) and returns one message per cut whose result differs from
    /// `expected`, or from the whole input's result when `expected` is nil. Empty means invariant. A long
    /// input may set `splitStride` to split in two at fewer positions (every split costs a whole decode).
    package static func verify<Value: Equatable>(
        _ input: [UInt8], expected: Value? = nil, patterns: [[Int]] = [], randomCuts: Int = 16, seed: UInt64 = 1,
        splitStride: Int = 1, feed: ([ArraySlice<UInt8>]) throws -> Value
    ) -> [String] {
        func outcome(_ pieces: [ArraySlice<UInt8>]) -> Outcome<Value> {
            do { return .value(try feed(pieces)) } catch { return .error("\(error)") }
        }
        let reference = expected.map { Outcome.value($0) } ?? outcome([input[...]])
        var failures: [String] = []
        let all = cuts(
            of: input.count, patterns: patterns, randomCuts: randomCuts, seed: seed, splitStride: splitStride)
        for cut in all {
            let got = outcome(pieces(input, cut.sizes))
            if got != reference { failures.append("\(cut): got \(got), expected \(reference)") }
        }
        return failures
    }
}
