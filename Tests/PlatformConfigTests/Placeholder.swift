import Testing

@Test func platformConfigBuilds() {}
