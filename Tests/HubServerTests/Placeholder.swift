import Testing

@Test func hubServerBuilds() {}
