import HTTPWire
import Testing

/// The exposition writer (`Protocols/http.md` §4): one HELP and TYPE per family, escaping, number forms.
@Suite struct MetricsTextTests {
    @Test func familiesAreWrittenOnceWithTheirSamples() {
        var text = MetricsText()
        text.add("hub_frames_total", .counter, "Frames.", labels: [("port", "a")], 3)
        text.add("hub_depth", .gauge, "Depth.", 1.5)
        text.add("hub_frames_total", .counter, "Frames.", labels: [("port", "b")], 4)
        let out = String(decoding: text.encode(), as: UTF8.self)
        #expect(
            out == """
                # HELP hub_frames_total Frames.
                # TYPE hub_frames_total counter
                hub_frames_total{port="a"} 3
                hub_frames_total{port="b"} 4
                # HELP hub_depth Depth.
                # TYPE hub_depth gauge
                hub_depth 1.5

                """)
    }

    @Test func labelValuesAndHelpAreEscaped() {
        #expect(MetricsText.escapeLabelValue("a\\b\"c\nd") == "a\\\\b\\\"c\\nd")
        #expect(MetricsText.escapeHelp("x\\y\nz \"q\"") == "x\\\\y\\nz \"q\"")
        var text = MetricsText()
        text.add("m", .gauge, "h", labels: [("partition", "evil\"} 1\nfake_total 9")], 1)
        let lines = String(decoding: text.encode(), as: UTF8.self).split(separator: "\n")
        // A hostile name stays inside its label value: one sample line, no injected family.
        #expect(lines.count == 3)
        #expect(lines[2] == #"m{partition="evil\"} 1\nfake_total 9"} 1"#)
    }

    /// The text as the format reads (escaping Unicode scalars, joining strings), written the plain way: what the
    /// byte writer must equal.
    static func plainText(_ families: [(String, MetricsText.Kind, String, [([(String, String)], Double)])]) -> String {
        var out = ""
        for (name, kind, help, samples) in families {
            out += "# HELP \(name) \(MetricsText.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
            for (labels, value) in samples {
                let pairs = labels.map { "\($0)=\"\(MetricsText.escapeLabelValue($1))\"" }
                out += name + (labels.isEmpty ? "" : "{" + pairs.joined(separator: ",") + "}")
                out += " \(MetricsText.format(value))\n"
            }
        }
        return out
    }

    @Test func theByteWriterEqualsThePlainTextForAnyLabelValues() {
        // Fixed seed: a failure repeats.
        var state: UInt64 = 0x5EED
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        let pieces = ["a", "\\", "\"", "\n", "é", "漢", "🙂", "{", "}", "=", ",", " ", "\r", "\u{0}", "#"]
        func value() -> String { (0..<next(13)).map { _ in pieces[next(pieces.count)] }.joined() }
        for _ in 0..<200 {
            var families: [(String, MetricsText.Kind, String, [([(String, String)], Double)])] = []
            for number in 0..<1 + next(4) {
                let samples = (0..<1 + next(5)).map { _ in
                    let labels = [("port", value()), ("reason", value())]
                    return (Array(labels.prefix(next(3))), Double(next(4_000_000) - 5) / 4)
                }
                families.append(("family_\(number)_total", .counter, value(), samples))
            }
            var text = MetricsText()
            for (name, kind, help, samples) in families {
                for (labels, sampleValue) in samples { text.add(name, kind, help, labels: labels, sampleValue) }
            }
            #expect(String(decoding: text.encode(), as: UTF8.self) == Self.plainText(families))
        }
    }

    @Test func namesFollowTheGrammar() {
        #expect(MetricsText.isValidName("handsethub_up") && MetricsText.isValidName("a:b_c1"))
        #expect(!MetricsText.isValidName("1abc") && !MetricsText.isValidName("a-b") && !MetricsText.isValidName(""))
        #expect(MetricsText.isValidLabelName("port") && !MetricsText.isValidLabelName("__name__"))
        #expect(!MetricsText.isValidLabelName("a:b"))
    }

    @Test func numbersAreSpelledAsTheFormatSays() {
        #expect(MetricsText.format(42) == "42")
        #expect(MetricsText.format(0.25) == "0.25")
        #expect(MetricsText.format(.nan) == "NaN")
        #expect(MetricsText.format(.infinity) == "+Inf")
        #expect(MetricsText.format(-.infinity) == "-Inf")
        #expect(MetricsText.format(1e300) == "1e+300")
    }
}
