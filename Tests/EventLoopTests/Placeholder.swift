import Testing

@Test func eventLoopBuilds() {}
