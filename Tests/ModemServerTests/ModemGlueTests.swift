import Testing

@testable import ModemServer
