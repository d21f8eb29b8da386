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
