import Foundation
import JSON
import Testing
import VectorSupport
import Wire

@testable import ModemSimWire

/// The modem-simulator link codec (Protocols/modem.md §6.1) against `Protocols/vectors/modem/sim-link.vectors`
/// and `sim-hellos.vectors`: every vector fed whole, a byte at a time and split at every point; hostile lengths.
struct ModemSimLinkVectorTests {
    /// What decoding one input gave: the frames (`kind:payload`), in order, and the refusal if any.
    struct Outcome: Equatable, CustomStringConvertible {
        var frames: [String] = []
        var error: DecodeError?
        var buffered = 0
        var description: String { "\(frames) error \(String(describing: error)) buffered \(buffered)" }
    }

    static func feed(_ chunks: [ArraySlice<UInt8>]) -> Outcome {
        var decoder = ModemSimFrameDecoder()
        var outcome = Outcome()
        for chunk in chunks {
            do {
                outcome.frames += try decoder.feed(chunk).map(render)
            } catch {
                outcome.error = error
                return outcome
            }
        }
        return outcome
    }

    static func render(_ frame: ModemSimFrameDecoder.Frame) -> String {
        let name =
            switch frame.kind {
            case .hello: "hello"
            case .at: "at"
            case .control: "control"
            case .event: "event"
            }
        return name + ":" + escape(frame.payload)
    }

    static func escape(_ bytes: some Collection<UInt8>) -> String {
        var text = ""
        for byte in bytes {
            switch byte {
            case 0x0D: text += "\\r"
            case 0x0A: text += "\\n"
            case 0x20..<0x7F: text.append(Character(UnicodeScalar(byte)))
            default: text += "\\x" + String(byte, radix: 16).leftPadded(to: 2)
            }
        }
        return text
    }

    struct Vector: CustomStringConvertible {
        let input: [UInt8]
        let expected: [String]
        let line: String
        var description: String { line }
        var frames: [String] { expected.filter { !["skipped", "partial"].contains($0) && !$0.hasPrefix("error:") } }
        var error: String? { expected.last.flatMap { $0.hasPrefix("error:") ? String($0.dropFirst(6)) : nil } }
    }

    static func vectors() throws -> [Vector] {
        try vectorLines("sim-link.vectors").map { line in
            let parts = line.components(separatedBy: " => ")
            let hex = parts[0].filter { !$0.isWhitespace }
            var input: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                input.append(UInt8(hex[index..<next], radix: 16)!)
                index = next
            }
            let result = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            let expected = result.isEmpty ? [] : result.components(separatedBy: " ; ")
            return Vector(input: input, expected: expected, line: line)
        }
    }

    static func check(_ outcome: Outcome, against vector: Vector, _ how: String) {
        if let error = vector.error {
            #expect(outcome.error != nil, "\(how): \(vector) was not refused")
            switch outcome.error {
            case .oversized?: #expect(error == "oversized", "\(how): \(vector)")
            case .empty?: #expect(error == "empty", "\(how): \(vector)")
            default: break
            }
            // Frames before the refusal may or may not have been delivered, but nothing else.
            #expect(vector.frames.starts(with: outcome.frames), "\(how): \(vector) gave \(outcome)")
        } else {
            #expect(outcome.error == nil && outcome.frames == vector.frames, "\(how): \(vector) gave \(outcome)")
        }
    }

    @Test func everyVectorWholeByteAtATimeAndAtEverySplit() throws {
        let vectors = try ModemSimLinkVectorTests.vectors()
        #expect(vectors.count >= 20)
        for vector in vectors {
            let bytes = vector.input[...]
            ModemSimLinkVectorTests.check(ModemSimLinkVectorTests.feed([bytes]), against: vector, "whole")
            let single = bytes.indices.map { bytes[$0...$0] }
            ModemSimLinkVectorTests.check(ModemSimLinkVectorTests.feed(single), against: vector, "byte at a time")
            for cut in bytes.indices {
                let split = [bytes[..<cut], bytes[cut...]]
                ModemSimLinkVectorTests.check(ModemSimLinkVectorTests.feed(split), against: vector, "split at \(cut)")
            }
        }
    }

    /// Frames decoded from a vector without skipped kinds, partial input or a refusal encode back to the input.
    @Test func framesEncodeBackToTheVectorBytes() throws {
        var checked = 0
        for vector in try ModemSimLinkVectorTests.vectors() where vector.expected == vector.frames {
            var decoder = ModemSimFrameDecoder()
            let frames = try decoder.feed(vector.input)
            let encoded = frames.flatMap { ModemSimFrame.encode($0.kind, $0.payload) }
            #expect(encoded == vector.input, "\(vector)")
            checked += 1
        }
        #expect(checked >= 8)
    }

    @Test func hellosAreCheckedForProtocolAndVersion() throws {
        let lines = try vectorLines("sim-hellos.vectors")
        #expect(lines.count >= 10)
        for line in lines {
            let parts = line.components(separatedBy: " => ")
            let (hello, problem) = ModemSimFrameDecoder.parseHello(Array(parts[0].utf8)[...])
            if parts[1] == "ok" {
                #expect(hello != nil && problem == nil, "\(line): \(String(describing: problem))")
            } else {
                #expect(
                    hello == nil && "refused:" + (problem ?? "") == parts[1], "\(line): \(String(describing: problem))")
            }
        }
    }

    /// The hellos the encoder writes are the ones the decoder accepts, with token and error as given.
    @Test func encodedHellosParse() throws {
        var decoder = ModemSimFrameDecoder()
        let bytes = ModemSimFrame.hello(token: "s3cret") + ModemSimFrame.hello(token: nil, error: "no")
        let frames = try decoder.feed(bytes)
        #expect(frames.map(\.kind) == [.hello, .hello])
        let first = try #require(ModemSimFrameDecoder.parseHello(frames[0].payload).0)
        #expect(first["token"] == "s3cret" && first["error"] == nil)
        let second = try #require(ModemSimFrameDecoder.parseHello(frames[1].payload).0)
        #expect(second["token"] == nil && second["error"] == "no")
    }

    /// Serial bytes longer than a frame are cut into frames of at most 65536 bytes and come back whole.
    @Test func longSerialInputIsCutIntoFramesAtTheLimit() throws {
        let serial = (0..<(2 * ModemSimFrame.maxPayload + 3)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let encoded = ModemSimFrame.encodeAT(serial)
        var decoder = ModemSimFrameDecoder()
        let frames = try decoder.feed(encoded)
        #expect(frames.map(\.payload.count) == [ModemSimFrame.maxPayload, ModemSimFrame.maxPayload, 3])
        #expect(frames.allSatisfy { $0.kind == .at })
        #expect(frames.flatMap(\.payload) == serial)
        #expect(ModemSimFrame.encodeAT([]).isEmpty)
    }

    /// Hostile lengths: the largest frame (65537) is read, one more is refused before any body arrives, and a
    /// length that announces more than has come holds only the bytes received (nothing is allocated for it).
    @Test func hostileLengthsAreRefusedBeforeTheBody() throws {
        var decoder = ModemSimFrameDecoder()
        let largest = ModemSimFrame.encode(.at, [UInt8](repeating: 0x41, count: ModemSimFrame.maxPayload))
        #expect(largest.count == 4 + 65537)
        #expect(try decoder.feed(largest).first?.payload.count == ModemSimFrame.maxPayload)
        for length: UInt32 in [65538, 0x0100_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF] {
            var fresh = ModemSimFrameDecoder()
            let prefix = withUnsafeBytes(of: length.bigEndian) { Array($0) }
            #expect(throws: DecodeError.oversized(length: Int(length), limit: 65537)) {
                _ = try fresh.feed(prefix)
            }
        }
        var zero = ModemSimFrameDecoder()
        #expect(throws: DecodeError.empty) { _ = try zero.feed([0, 0, 0, 0]) }
        // A whole 65537-byte frame announced, four bytes of it sent a byte at a time: nothing yet, no refusal.
        var waiting = ModemSimFrameDecoder()
        for byte: UInt8 in [0x00, 0x01, 0x00, 0x01, 0x02, 0x41, 0x54, 0x0D] {
            #expect(try waiting.feed([byte]).isEmpty)
        }
    }
}

/// Loads `Protocols/vectors/modem/<name>` from the repository root found above this file: the lines that are
/// neither blank nor comments.
/// The vectors of `Protocols/vectors/modem/<name>` as `INPUT => RESULT` lines: the link's `hex` (or a hello's
/// `payload`) and its `expect`.
func vectorLines(_ name: String) throws -> [String] {
    try VectorSet("modem/" + name).vectors.map { vector in
        let input = try vector["hex"] ?? vector.text("payload")
        return input + " => " + (try vector.text("expect"))
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
