import Testing

@Test func controlWireBuilds() {}
