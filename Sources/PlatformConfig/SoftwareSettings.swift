/// The software slots of launched partitions (`hub.software`, `Deploy/config-reference.md`;
/// `Protocols/management.md` §"Images"). They are active only when `hub.stateDirectory` is set.
package struct SoftwareSettings: Sendable, Equatable {
    /// An upgraded image must attach and stay up this long (or mark itself good) to pass its probation.
    package var probationMs: Int = 10_000
    /// Starts of an image on probation before the hub falls back to the previous slot.
    package var maxStartAttempts: Int = 3
    /// The largest `manifest.json` read.
    package var maxManifestBytes: Int = 16 << 10
    /// The most bytes of files an image may hold.
    package var maxImageBytes: Int = 256 << 20
    /// The most entries (files and directories) an image may hold.
    package var maxImageFiles: Int = 4096
    /// Tests only: with `HANDSETHUB_TEST_HOOKS=1` in the environment too, enables `software.test.apply` and
    /// `HANDSETHUB_TEST_KILL_AT` (`Protocols/management.md` §"Test hooks").
    package var testHooks: Bool = false

    package static let probationRange = 100...3_600_000
    package static let startAttemptsRange = 1...100
    package static let manifestBytesRange = 1024...(1 << 20)
    package static let imageBytesRange = 1024...(16 << 30)
    package static let imageFilesRange = 1...1_000_000

    package init() {}
}
