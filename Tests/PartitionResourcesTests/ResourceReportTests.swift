import HubSystem
import JSON
import PartitionResources
import Testing

/// How a partition's class, priority and weight become process settings (`Deploy/config-reference.md`,
/// partitions[].launch) and how what was not applied is reported.
@Suite struct ResourceReportTests {
    @Test func realTimePrioritiesMapOntoFifoPrioritiesHighestFirst() {
        #expect(ResourceReport.fifoPriority(0) == 90)
        #expect(ResourceReport.fifoPriority(15) == 15)
        #expect(ResourceReport.fifoPriority(1) < ResourceReport.fifoPriority(0))
        // Out of range priorities stay within SCHED_FIFO's 1...99.
        #expect(ResourceReport.fifoPriority(100) == 1)
        #expect(ResourceReport.fifoPriority(-100) == 99)
    }

    @Test func weightsBecomeNiceValuesWithinBounds() {
        #expect(ResourceReport.niceValue(weight: 100) == 0)
        #expect(ResourceReport.niceValue(weight: 200) == -5)
        #expect(ResourceReport.niceValue(weight: 50) == 5)
        #expect(ResourceReport.niceValue(weight: 10_000) == -10)
        #expect(ResourceReport.niceValue(weight: 0) == 19)
    }

    @Test func refusalsNameTheErrnoAndWhatItNeeds() {
        #expect(ResourceReport.describe(SystemError.permissionDenied).contains("CAP_SYS_NICE"))
        #expect(ResourceReport.describe(SystemError.readOnlyFileSystem).contains("EROFS"))
        #expect(ResourceReport.describe(9999) == "errno 9999")
        #expect(ResourceReport().json == ["applied": [], "notApplied": []])
    }
}
