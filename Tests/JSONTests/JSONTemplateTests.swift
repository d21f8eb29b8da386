import JSON
import Testing

/// A template writes the same bytes as serialising the object with the open members' values in place, whatever
/// those values are, wherever the open members sit (first, middle, last, nested objects beside them).
@Suite struct JSONTemplateTests {
    private func substituted(_ object: JSONObject, _ keys: [String], _ values: [JSON]) -> JSON {
        var copy = object
        for (key, value) in zip(keys, values) { copy[key] = value }
        return .object(copy)
    }

    @Test func writesWhatSerialisingTheObjectWrites() throws {
        let object: JSONObject = [
            "first": .null, "server": "hubd", "quote\"d": "a\\b\n\u{1}é", "middle": .null,
            "nested": ["list": [1, 2.5, true, nil], "empty": [:]], "last": .null,
        ]
        let keys = ["first", "middle", "last"]
        let template = JSONTemplate(object, open: Set(keys))
        #expect(template.openKeys == keys)
        let valueSets: [[JSON]] = [
            [0, 0, 0], [.int(Int64.max), .int(Int64.min), "x\"y"], [["passes": 3, "p99PassUs": 0], [], nil],
            [.uint(UInt64.max), 1.5, ["deep": ["deeper": "é😀"]]],
        ]
        for values in valueSets {
            var out: [UInt8] = []
            template.write(values, into: &out)
            #expect(out == substituted(object, keys, values).serializedBytes(), "\(values)")
            #expect(try JSON.parse(out) == substituted(object, keys, values))
        }
    }

    @Test func theValueWriterIsAskedForEachOpenMemberInOrder() {
        let template = JSONTemplate(["a": 1, "b": .null, "c": 2, "d": .null], open: ["d", "b"])
        var asked: [Int] = []
        var out: [UInt8] = Array("prefix".utf8)
        template.write(into: &out) { index, out in
            asked.append(index)
            JSON.writeInteger(Int64(index * 10), into: &out)
        }
        #expect(asked == [0, 1])
        #expect(String(decoding: out, as: UTF8.self) == #"prefix{"a":1,"b":0,"c":2,"d":10}"#)
        #expect(template.fixedByteCount == #"{"a":1,"b":,"c":2,"d":}"#.utf8.count)
    }

    @Test func anObjectWithoutOpenMembersIsWrittenWhole() {
        let object: JSONObject = ["x": [1, 2], "y": "z"]
        var out: [UInt8] = []
        JSONTemplate(object, open: ["absent"]).write([], into: &out)
        #expect(out == JSON.object(object).serializedBytes())
        var empty: [UInt8] = []
        JSONTemplate([:], open: []).write([], into: &empty)
        #expect(empty == Array("{}".utf8))
    }
}
