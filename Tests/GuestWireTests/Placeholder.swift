import Testing

@Test func guestWireBuilds() {}
