import Testing
import VectorSupport

@Suite struct VectorFormatTests {
    @Test func fieldsContinuationsAndCommentsParse() throws {
        let set = try VectorSet(
            parsing: """
                # a set
                # of two

                name: first
                # about first
                hex:
                  00 01  # two bytes
                # between pieces
                  ff
                expect: {"a": 1}

                name: second
                line:  leading space kept
                hex: -
                """)
        #expect(set.header == ["a set", "of two"])
        #expect(set.vectors.map(\.name) == ["first", "second"])
        #expect(try set.vector("first").bytes() == [0, 1, 0xff])
        #expect(set["first"]?["expect"] == #"{"a": 1}"#)
        #expect(set["second"]?["line"] == " leading space kept")
        #expect(try set.vector("second").bytes() == [])
    }

    @Test func malformedFilesAreRefusedWithTheirLine() {
        #expect(throws: VectorFormatError.fieldOutsideVector(line: 1)) { try VectorSet(parsing: "hex: 00") }
        #expect(throws: VectorFormatError.continuationWithoutField(line: 2)) {
            try VectorSet(parsing: "name: a\n  00")
        }
        #expect(throws: VectorFormatError.duplicateName("a", line: 2)) { try VectorSet(parsing: "name: a\nname: a") }
        #expect(throws: VectorFormatError.notAField(line: 2)) { try VectorSet(parsing: "name: a\nno colon") }
        #expect(throws: VectorFormatError.notHex(vector: "a", key: "hex")) {
            try VectorSet(parsing: "name: a\nhex: 0g").vector("a").bytes()
        }
        #expect(throws: VectorFormatError.notHex(vector: "a", key: "hex")) {
            try VectorSet(parsing: "name: a\nhex: 012").vector("a").bytes()
        }
        #expect(throws: VectorFormatError.missingField(vector: "a", key: "hex")) {
            try VectorSet(parsing: "name: a").vector("a").bytes()
        }
    }

    @Test func escapesExpand() throws {
        #expect(HexText.unescape(#"AT\r\n\x1a\\"#) == Array("AT\r\n".utf8) + [0x1a, 0x5c])
        #expect(HexText.unescape(#"\x1"#) == nil)
        #expect(HexText.unescape(#"\q"#) == nil)
        #expect(HexText.encode([0, 0xab, 0xff]) == "00abff")
    }

    @Test func everyVectorFileInTheRepositoryParses() throws {
        var files = 0
        for directory in RepositoryFiles.list("Protocols/vectors") {
            for file in RepositoryFiles.list("Protocols/vectors/" + directory) where file.hasSuffix(".vectors") {
                let set = try VectorSet(directory + "/" + file)
                #expect(!set.vectors.isEmpty, "\(directory)/\(file)")
                for vector in set.vectors where vector["hex"] != nil {
                    #expect(throws: Never.self, "\(directory)/\(file): \(vector)") { try vector.bytes() }
                }
                files += 1
            }
        }
        #expect(files >= 10)
    }
}

@Suite struct ChunkingTests {
    /// Splits input into lines at LF; `carry` decides whether a partial line survives a feed boundary.
    static func lines(_ pieces: [ArraySlice<UInt8>], carry: Bool) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var partial: [UInt8] = []
        for piece in pieces {
            for byte in piece {
                if byte == 0x0A {
                    lines.append(partial)
                    partial = []
                } else {
                    partial.append(byte)
                }
            }
            if !carry { partial = [] }
        }
        return lines
    }

    @Test func aCorrectDecoderPassesEveryCut() {
        let input = Array("ab\ncd\n\nefg\n".utf8)
        #expect(Chunking.verify(input) { Self.lines($0, carry: true) }.isEmpty)
    }

    @Test func aDecoderThatDropsBytesAtABoundaryFails() {
        let input = Array("ab\ncd\n".utf8)
        let failures = Chunking.verify(input) { Self.lines($0, carry: false) }
        #expect(failures.contains { $0.hasPrefix("byte at a time") })
        #expect(failures.contains { $0.hasPrefix("split at 1:") })
        #expect(!failures.contains { $0.hasPrefix("split at 0:") || $0.hasPrefix("split at 3:") })
    }

    @Test func errorsAreComparedToo() {
        struct Boom: Error {}
        let input: [UInt8] = [1, 2, 3]
        // Throws only when fed in more than one piece: the verifier reports it rather than crashing.
        let failures = Chunking.verify(input) { pieces in
            if pieces.filter({ !$0.isEmpty }).count > 1 { throw Boom() }
            return 0
        }
        #expect(failures.contains { $0.contains("error(") })
        #expect(Chunking.verify(input, expected: 1) { _ in 1 }.isEmpty)
    }

    @Test func cutsCoverTheInputExactly() {
        for cut in Chunking.cuts(of: 10, patterns: [[3], [1, 4]], randomCuts: 8, seed: 7) {
            #expect(Chunking.pieces(Array(0..<10), cut.sizes).flatMap { $0 } == Array(0..<10), "\(cut)")
        }
        #expect(Chunking.cuts(of: 10, randomCuts: 8).count == 1 + 1 + 11 + 8)
        let strided = Chunking.cuts(of: 10, randomCuts: 0, splitStride: 4).map(\.label)
        #expect(strided == ["whole", "byte at a time", "split at 0", "split at 4", "split at 8", "split at 10"])
    }
}
