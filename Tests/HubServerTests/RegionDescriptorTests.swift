import Glibc
import GuestWire
import HubGuest
import Testing

/// Shared memory over Unix sockets (`Protocols/guest.md` §8.5): memfds passed with SCM_RIGHTS,
/// read-only grants that cannot be mapped writable, and TCP guests on the same bytes.
@Suite struct RegionDescriptorTests {
    private func attach(_ hub: HubHarness, _ partition: String, tcp: Bool = false) throws -> GuestClient {
        let endpoint = tcp ? "tcp:127.0.0.1:\(hub.guestTCPPort)" : "unix:\(hub.guestUnix)"
        // A detach just sent on another connection may not be processed yet: retry briefly.
        for _ in 0..<50 {
            do {
                return try GuestClient.connect(
                    endpoint: endpoint, partition: partition, secret: "\(partition)-dev-secret")
            } catch .rejected(code: .alreadyAttached, _) {
                usleep(20_000)
            }
        }
        throw GuestClientError.timeout
    }

    /// The next REGION_FD event, skipping others; nil if none arrives within `timeout` seconds.
    private func regionDescriptor(_ client: GuestClient, timeout: Double = 5)
        throws -> (region: UInt32, access: GuestRegionAccess, size: UInt64, fd: Int32?)?
    {
        while let event = try client.nextEvent(timeout: timeout) {
            if case .regionFD(let region, let access, let size, let fd) = event { return (region, access, size, fd) }
        }
        return nil
    }

    @Test func unixGuestsMapTheRegionAndReadOnlyGrantsCannotWrite() throws {
        let hub = try HubHarness()
        let rtos = try attach(hub, "rtos")
        let region = try #require(rtos.welcome.regions.first { $0.name == "shared-status" })
        let rw = try #require(try regionDescriptor(rtos))
        #expect(rw.region == region.id)
        #expect(rw.access == .readWrite)
        #expect(rw.size == region.size)
        let rwFD = try #require(rw.fd)
        defer { close(rwFD) }
        let writable = try #require(mmap(nil, Int(rw.size), PROT_READ | PROT_WRITE, MAP_SHARED, rwFD, 0))
        #expect(writable != MAP_FAILED)
        defer { munmap(writable, Int(rw.size)) }
        let message = Array("signal=4 battery=87".utf8)
        // SAFETY: the mapping is rw.size (4 KiB) bytes long; the message is shorter.
        UnsafeMutableRawBufferPointer(start: writable, count: message.count).copyBytes(from: message)

        // A TCP guest gets no descriptor, reads the same bytes through the protocol, and cannot write.
        let linuxTCP = try attach(hub, "linux", tcp: true)
        #expect(try linuxTCP.readRegion(region.id, offset: 0, length: UInt32(message.count)) == message)
        #expect(try linuxTCP.writeRegion(region.id, offset: 0, bytes: [0xff]) == .outOfGrant)
        #expect(try regionDescriptor(linuxTCP, timeout: 0.3) == nil)
        try linuxTCP.detach(reason: "switching to the unix socket")

        // Over the Unix socket, linux (read-only grant) maps the region for reading and sees the bytes.
        let linux = try attach(hub, "linux")
        let ro = try #require(try regionDescriptor(linux))
        #expect(ro.access == .readOnly)
        let roFD = try #require(ro.fd)
        defer { close(roFD) }
        let readable = try #require(mmap(nil, Int(ro.size), PROT_READ, MAP_SHARED, roFD, 0))
        #expect(readable != MAP_FAILED)
        defer { munmap(readable, Int(ro.size)) }
        // SAFETY: the mapping is ro.size bytes long.
        #expect(Array(UnsafeRawBufferPointer(start: readable, count: message.count)) == message)
        // Writes by the hub (a TCP write from rtos would do the same) show up in the mapping.
        #expect(try rtos.writeRegion(region.id, offset: 0, bytes: Array("SIGNAL".utf8)) == .ok)
        #expect(Array(UnsafeRawBufferPointer(start: readable, count: 6)) == Array("SIGNAL".utf8))

        // The read-only descriptor cannot be mapped writable, nor written.
        errno = 0
        let attempt = mmap(nil, Int(ro.size), PROT_READ | PROT_WRITE, MAP_SHARED, roFD, 0)
        #expect(attempt == MAP_FAILED)
        #expect(errno == EACCES)
        var byte: UInt8 = 0x41
        #expect(pwrite(roFD, &byte, 1, 0) == -1)
        #expect(Array(UnsafeRawBufferPointer(start: readable, count: 1)) == Array("S".utf8))
        #expect(hub.stop() == 0)
    }
}
