import ControlWire
import JSON
import Testing

@Suite struct ControlParamsTests {
    private func expectInvalid(
        param: String, expected: String, _ body: () throws(ControlError) -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            try body()
            Issue.record("no error", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == .invalidParams, sourceLocation: sourceLocation)
            #expect(error.data?["param"]?.stringValue == param, sourceLocation: sourceLocation)
            #expect(error.data?["expected"]?.stringValue == expected, sourceLocation: sourceLocation)
            #expect(error.message.contains("'\(param)'"), sourceLocation: sourceLocation)
        }
    }

    @Test func typedAccess() throws {
        let params = try ControlParams([
            "partition": "rtos", "line": 3, "since": 0, "follow": true, "filter": ["kinds": ["irq.*"]],
            "kinds": "a", "list": ["a", "b"], "payload": "aGk=", "none": nil,
        ])
        #expect(try params.requireString("partition") == "rtos")
        #expect(try params.requireInt("line", in: 0...63) == 3)
        #expect(try params.optionalUInt64("since") == 0)
        #expect(try params.requireBool("follow"))
        #expect(try params.requireObject("filter")["kinds"] == ["irq.*"])
        #expect(try params.optionalStrings("kinds") == ["a"])
        #expect(try params.optionalStrings("list") == ["a", "b"])
        #expect(try params.optionalBase64("payload", maxLength: 16) == Array("hi".utf8))
        #expect(try params.optionalString("none") == nil)
        #expect(try params.optionalString("absent") == nil)
        #expect(try params.optionalChoice("partition", of: ["rtos", "linux"]) == "rtos")
    }

    @Test func errorsNameTheParameterAndType() throws {
        let params = try ControlParams(["line": "3", "big": 99, "neg": -1, "flag": 1, "list": [1], "p": "!!"])
        expectInvalid(param: "partition", expected: "string") { () throws(ControlError) in
            _ = try params.requireString("partition")
        }
        expectInvalid(param: "line", expected: "integer") { () throws(ControlError) in
            _ = try params.requireInt("line")
        }
        expectInvalid(param: "big", expected: "integer in 0...63") { () throws(ControlError) in
            _ = try params.requireInt("big", in: 0...63)
        }
        expectInvalid(param: "neg", expected: "integer in 0...9223372036854775807") { () throws(ControlError) in
            _ = try params.optionalUInt64("neg")
        }
        expectInvalid(param: "flag", expected: "boolean") { () throws(ControlError) in
            _ = try params.requireBool("flag")
        }
        expectInvalid(param: "list", expected: "array of strings") { () throws(ControlError) in
            _ = try params.optionalStrings("list")
        }
        expectInvalid(param: "p", expected: "base64 string") { () throws(ControlError) in
            _ = try params.optionalBase64("p", maxLength: 10)
        }
        expectInvalid(param: "line", expected: "one of a, b") { () throws(ControlError) in
            _ = try params.optionalChoice("line", of: ["a", "b"])
        }
    }

    @Test func unknownAndPositionalParamsAreRefused() {
        #expect(throws: ControlError.self) { try ControlParams(["a": 1, "zzz": 2], allowed: ["a"]) }
        #expect(throws: ControlError.self) { try ControlParams([1, 2]) }
        #expect(throws: Never.self) { try ControlParams(nil, allowed: []) }
        do {
            _ = try ControlParams(["zzz": 2], allowed: ["a"])
        } catch {
            #expect(error.data?["param"] == "zzz")
        }
    }

    @Test func base64() {
        let samples: [[UInt8]] = [[], [0], [0, 1], [0, 1, 2], Array(0...255)]
        for sample in samples { #expect(Base64.decode(Base64.encode(sample)) == sample) }
        #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8=")
        #expect(Base64.decode("aGVsbG8=") == Array("hello".utf8))
        #expect(Base64.decode("aGVsbG8") == nil)
        #expect(Base64.decode("aGV=bG8=") == nil)
        #expect(Base64.decode("a===") == nil)
        #expect(Base64.decode("aGVsbG9=") == nil)  // non-zero trailing bits
        #expect(Base64.decode("aGVs bG8=") == nil)
    }
}

/// The shared checked accessors: numbers are range-checked before any conversion.
@Suite struct ControlParamsNumberTests {
    private func refusal(_ body: () throws(ControlError) -> Void) -> ControlError? {
        do {
            try body()
            return nil
        } catch {
            return error
        }
    }

    @Test func integersOutsideTheirRangeOrTypeAreRefusedWithTheRange() throws {
        let params = try ControlParams(
            [
                "huge": .double(1e20), "negative": -1, "fraction": 1.5, "nan": .double(.nan),
                "infinite": .double(.infinity), "max": .int(Int64.max), "whole": 3.0, "text": "7",
            ], path: "egress")
        for name in ["huge", "negative", "fraction", "nan", "infinite", "max"] {
            let error = try #require(
                refusal { () throws(ControlError) in
                    _ = try params.optionalInteger(name, in: UInt64(0)...1_000_000)
                })
            #expect(error.code == .invalidParams)
            #expect(error.data?["param"] == .string("egress.\(name)"))
            #expect(error.data?["expected"] == "integer in 0...1000000")
        }
        // Past the target type, however wide the range.
        #expect(
            refusal { () throws(ControlError) in _ = try params.optionalInteger("max", in: Int32.min...Int32.max) }
                != nil)
        #expect(
            refusal { () throws(ControlError) in _ = try params.optionalInteger("negative", in: UInt8.min...UInt8.max) }
                != nil)
        #expect(try params.optionalInteger("whole", in: UInt16(0)...10) == 3)
        #expect(try params.optionalInteger("absent", in: 0...10) == nil)
        let text = try #require(
            refusal { () throws(ControlError) in _ = try params.optionalInteger("text", in: 0...10) })
        #expect(text.data?["expected"] == "integer")
        #expect(refusal { () throws(ControlError) in _ = try params.requireInteger("absent", in: 0...10) } != nil)
    }

    @Test func numbersMustBeFiniteAndInRange() throws {
        let params = try ControlParams([
            "ok": 0.25, "high": 2, "nan": .double(.nan), "negative": .double(-0.5), "text": "1",
        ])
        #expect(try params.optionalNumber("ok", in: 0...1) == 0.25)
        for name in ["high", "nan", "negative", "text"] {
            let error = try #require(
                refusal { () throws(ControlError) in _ = try params.optionalNumber(name, in: 0...1) })
            #expect(error.data?["param"] == .string(name))
        }
    }

    /// Base64 over its bound: `-32004` naming the `hub.limits` entry with the limit's value when the bound is one,
    /// `-32602` naming the parameter otherwise (a wrong-size image is not a limit); checked before decoding.
    @Test func base64OverItsBoundNamesTheLimitOrTheParameter() throws {
        let params = try ControlParams(["small": "AAAA", "big": "AAAAAAAAAAAA", "bad": "@@@@"])
        #expect(try params.optionalBase64("small", maxLength: 3) == [0, 0, 0])
        let limited = try #require(
            refusal { () throws(ControlError) in
                _ = try params.optionalBase64("big", maxLength: 6, limit: "guestMaxFrameBytes")
            })
        #expect(limited.code.rawValue == -32004)
        #expect(limited.data?["limit"] == "guestMaxFrameBytes" && limited.data?["value"] == 6)
        let sized = try #require(
            refusal { () throws(ControlError) in _ = try params.optionalBase64("big", maxLength: 6) })
        #expect(sized.code.rawValue == -32602 && sized.data?["param"] == "big")
        #expect(sized.message.contains("9 bytes, over 6"))
        let garbage = try #require(
            refusal { () throws(ControlError) in _ = try params.optionalBase64("bad", maxLength: 6) })
        #expect(garbage.code.rawValue == -32602 && garbage.data?["param"] == "bad")
    }
}
