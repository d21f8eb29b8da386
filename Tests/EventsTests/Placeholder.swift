import Testing

@Test func eventsBuilds() {}
