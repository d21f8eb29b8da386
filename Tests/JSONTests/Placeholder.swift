import Testing

@Test func jsonBuilds() {}
