import JSON
import Testing

@Suite struct JSONSerializationTests {
    @Test func compactOutputAndEscaping() {
        let value: JSON = ["s": "a\"b\\c\n\u{1}\u{7f}é/", "n": nil, "t": true, "i": -3, "d": 0.5, "a": [], "o": [:]]
        #expect(
            value.serialized()
                == #"{"s":"a\"b\\c\n\u0001\u007fé/","n":null,"t":true,"i":-3,"d":0.5,"a":[],"o":{}}"#)
    }

    @Test func roundTripsPreserveValueAndTypes() throws {
        let samples: [JSON] = [
            .int(Int64.min), .int(Int64.max), .double(1e-7), .double(123_456.789), .double(2), .double(-0.0),
            .string("\u{0}\u{1f}\"\\😀\u{2028}"), ["nested": [[["x": [1, 2.5, "3", false, nil]]]]],
        ]
        for sample in samples {
            let text = sample.serialized()
            let back = try JSON.parse(text)
            #expect(back == sample, "\(text)")
            #expect(back.serialized() == text)
        }
    }

    /// Integers are written digit by digit without a String in between; the text is what `String(_:)` spells.
    @Test func integersAreSpelledAsStringSpellsThem() {
        var samples: [Int64] = [0, 1, -1, 9, 10, -9, -10, 99, 100, 1_000_000, Int64.max, Int64.min, Int64.min + 1]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for shift in 0..<64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            samples.append(Int64(bitPattern: state) >> UInt64(shift))
            samples.append(Int64(1) << UInt64(min(shift, 62)))
        }
        for sample in samples {
            #expect(JSON.int(sample).serialized() == String(sample))
            #expect(JSON.array([.int(sample), .int(sample)]).serialized() == "[\(sample),\(sample)]")
        }
    }

    @Test func nonFiniteDoublesBecomeNull() {
        #expect(JSON.double(.infinity).serialized() == "null")
        #expect(JSON.double(.nan).serialized() == "null")
    }

    @Test func prettyOutputIsParseable() throws {
        let value: JSON = ["a": [1, ["b": nil]], "c": [:], "d": []]
        let pretty = value.prettySerialized()
        #expect(pretty == "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}")
        #expect(try JSON.parse(pretty) == value)
    }

    @Test func objectEqualityIgnoresOrderButSerializationKeepsIt() {
        let ab: JSON = ["a": 1, "b": 2]
        let ba: JSON = ["b": 2, "a": 1]
        #expect(ab == ba)
        #expect(ab.hashValue == ba.hashValue)
        #expect(ab.serialized() != ba.serialized())
        #expect(ab != ["a": 1, "b": 3])
        #expect(ab != ["a": 1])
        #expect(JSON.int(1) != JSON.double(1))
    }

    @Test func objectEditing() {
        var object: JSONObject = ["x": 1, "y": 2]
        object["x"] = "one"
        object["z"] = 3
        object["y"] = nil
        #expect(object.keys == ["x", "z"])
        #expect(object["x"] == "one")
        #expect(object.removeValue(forKey: "z") == 3)
        #expect(object.count == 1)
        #expect(object.contains("x") && !object.contains("z"))
    }

    @Test func accessors() {
        let value: JSON = ["n": 3, "f": 3.0, "h": 3.5, "neg": -1, "s": "x", "b": false, "l": [1]]
        #expect(value["n"]?.intValue == 3)
        #expect(value["f"]?.intValue == 3)
        #expect(value["h"]?.intValue == nil)
        #expect(value["neg"]?.uint64Value == nil)
        #expect(value["n"]?.uint64Value == 3)
        #expect(value["h"]?.doubleValue == 3.5)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["s"]?.intValue == nil)
        #expect(value["b"]?.boolValue == false)
        #expect(value["l"]?.arrayValue == [1])
        #expect(value["l"]?[5] == nil)
        #expect(value["l"]?.typeName == "array")
        #expect(JSON.uint(UInt64.max) == .int(Int64.max))
    }
}
