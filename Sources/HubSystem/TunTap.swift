import CHubSystem
import Glibc

/// Linux TAP interfaces through `/dev/net/tun` (`Documentation/networking/tuntap.rst` in the kernel). The
/// ioctls and `struct ifreq` are built in C (`hub_system.h`); errors name the step that failed.
package enum TunTap {
    /// Opens (creating if needed) the TAP interface `name` (1 to 15 bytes) without packet information, and
    /// returns a non-blocking, close-on-exec descriptor that reads and writes one whole frame per call.
    /// `persistent` keeps the interface after the last descriptor closes (TUNSETPERSIST).
    /// Errors: `open /dev/net/tun` (ENOENT/ENODEV/ENXIO: no tun module; EACCES/EPERM: no permission),
    /// `TUNSETIFF` (EPERM: no CAP_NET_ADMIN; EBUSY: the name is taken), `TUNSETPERSIST`.
    package static func open(name: String, persistent: Bool) throws(SystemError) -> Int32 {
        let fd = hub_tun_open()
        guard fd >= 0 else { throw .last("open /dev/net/tun") }
        if hub_tun_attach_tap(fd, name) != 0 {
            let error = SystemError.last("TUNSETIFF")
            Descriptors.close(fd)
            throw error
        }
        if persistent && hub_tun_set_persistent(fd, 1) != 0 {
            let error = SystemError.last("TUNSETPERSIST")
            Descriptors.close(fd)
            throw error
        }
        return fd
    }

    /// Sets the interface's Ethernet hardware address (SIOCSIFHWADDR).
    package static func setHardwareAddress(name: String, _ address: [UInt8]) throws(SystemError) {
        guard address.count == 6 else { throw SystemError("SIOCSIFHWADDR", code: EINVAL) }
        // SAFETY: the array holds the 6 bytes the C function reads, alive for the call.
        let result = address.withUnsafeBufferPointer { hub_interface_set_ethernet_address(name, $0.baseAddress) }
        guard result == 0 else { throw .last("SIOCSIFHWADDR") }
    }

    /// Whether an interface is there and up.
    package enum InterfaceState: String, Sendable {
        case up, down, absent
    }

    /// The interface's state now (SIOCGIFFLAGS): `absent` when there is no interface by that name (ENODEV), for
    /// instance a tap deleted with `ip link del` or gone with the network namespace it was moved to.
    package static func state(name: String) throws(SystemError) -> InterfaceState {
        switch hub_interface_is_up(name) {
        case 1: return .up
        case 0: return .down
        default:
            let error = SystemError.last("SIOCGIFFLAGS")
            if error.code == ENODEV { return .absent }
            throw error
        }
    }

    /// What a failed read or write on a tap descriptor says about its interface.
    package enum Failure: Sendable {
        /// EIO: the interface is down (a write to a down tap is refused).
        case interfaceDown
        /// EBADFD (the interface was deleted and the descriptor detached), ENODEV, ENXIO.
        case interfaceGone
        /// EAGAIN: nothing to read now; a write refused for room (ENOBUFS, ENOMEM) or anything else.
        case other
    }

    package static func failure(_ error: SystemError) -> Failure {
        switch error.code {
        case EIO: return .interfaceDown
        case EBADFD, ENODEV, ENXIO: return .interfaceGone
        default: return .other
        }
    }

    /// Sets IFF_UP on the interface (SIOCGIFFLAGS, SIOCSIFFLAGS).
    package static func bringUp(name: String) throws(SystemError) {
        guard hub_interface_bring_up(name) == 0 else { throw .last("SIOCSIFFLAGS") }
    }
}
