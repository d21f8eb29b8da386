import PlatformConfig
import Testing
import VectorSupport

/// Weak Ed25519 keys (`Protocols/management.md` §5, Keys) are never an authority's: every small-order point,
/// each with its sign bit clear and set, and non-canonical encodings are refused by the configuration.
@Suite struct WeakKeyTests {
    static func hex(_ first: String, fill: String = "00", last: String) -> String {
        first + String(repeating: fill, count: 30) + last
    }

    /// The configuration's issues about `key` given as an authority's second key (after a good one).
    private func secondKeyIssues(_ key: String) -> [String] {
        let yaml = ManagementConfigTests.yaml(
            """
                - name: operator
                  keys: [\(ManagementConfigTests.key0), \(key)]
                  grants:
                    - {operations: [upgrade], partitions: [a]}

            """)
        return issues(yaml).filter { $0.hasPrefix("management.authorities[0].keys[1]: ") }
    }

    /// The spec's list, then the same points with the sign bit (the top bit of byte 31) set, then
    /// non-canonical encodings of points that are not of small order (y = p + 2, all bits set).
    static let weakKeys = [
        hex("00", last: "00"),
        hex("01", last: "00"),
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        hex("ec", fill: "ff", last: "7f"),
        hex("ed", fill: "ff", last: "7f"),
        hex("ee", fill: "ff", last: "7f"),
        hex("00", last: "80"),
        hex("01", last: "80"),
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        hex("ec", fill: "ff", last: "ff"),
        hex("ed", fill: "ff", last: "ff"),
        hex("ee", fill: "ff", last: "ff"),
        hex("ef", fill: "ff", last: "7f"),
        hex("ff", fill: "ff", last: "ff"),
    ]

    @Test(arguments: weakKeys)
    func aWeakKeyIsRefusedByTheConfiguration(key: String) {
        #expect(ManagementConfig.publicKeyProblem(key) != nil, "\(key)")
        let found = secondKeyIssues(key)
        #expect(found.count == 1, "\(key): \(found)")
        #expect(found.first.map { $0.contains("small-order") || $0.contains("canonical") } == true, "\(found)")
    }

    @Test func goodKeysAndTheCanonicalNeighboursOfTheWeakOnesPass() {
        let good = [
            ManagementConfigTests.key0, ManagementConfigTests.key1,
            // y = p − 3 and y = 3, points (p − 2 and 2, closer neighbours, are no points: keys.vectors).
            Self.hex("ea", fill: "ff", last: "7f"), Self.hex("03", last: "00"),
        ]
        for key in good { #expect(ManagementConfig.publicKeyProblem(key) == nil, "\(key)") }
        #expect(issues(ManagementConfigTests.yaml(ManagementConfigTests.good)).isEmpty)
        #expect(ManagementConfig.publicKeyProblem("ABC")?.contains("64 lowercase hex digits") == true)
    }

    /// `Protocols/vectors/management/keys.vectors` (written by `keys-generate.py` with plain Python integers):
    /// a key that decodes to no point is refused at its path in the configuration, and every point passes.
    @Test func anOffCurveKeyIsRefusedByTheConfigurationAndPointsPass() throws {
        let vectors = try VectorSet("management/keys.vectors").vectors
        #expect(vectors.filter { $0["error"] == "not-on-curve" }.count >= 5)
        for vector in vectors where vector["error"] == "not-on-curve" || vector["expect"] == "point" {
            let key = try vector.text("hex")
            let found = secondKeyIssues(key)
            if vector["expect"] == "point" {
                #expect(found.isEmpty, "\(vector): \(found)")
            } else {
                #expect(
                    found == [
                        "management.authorities[0].keys[1]: is not a point on the Ed25519 curve ((y^2 - 1)/(d*y^2 + 1) "
                            + "is not a square mod 2^255 - 19): no signature could verify under it"
                    ], "\(vector): \(found)")
            }
        }
    }
}
