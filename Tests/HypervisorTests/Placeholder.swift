import Testing

@Test func hypervisorBuilds() {}
