import HubSystem

/// Opens (creating if needed) a Linux TAP interface through `/dev/net/tun` (TUNSETIFF with
/// IFF_TAP | IFF_NO_PI) and brings it up. Frames are read and written whole, one per syscall.
enum TapInterface {
    struct OpenError: Error, CustomStringConvertible {
        let description: String
    }

    /// Returns a non-blocking descriptor for the interface; `entry` names the configuration entry in errors.
    /// `mac` (validated `aa:bb:cc:dd:ee:ff`) is set before the interface comes up; `persistent` keeps the interface
    /// after the hub closes it (TUNSETPERSIST), so a restarted hub finds the same interface with its plumbing.
    static func open(interface: String, entry: String, mac: String? = nil, persistent: Bool = false) throws(OpenError)
        -> Int32
    {
        let fd: Int32
        do {
            fd = try TunTap.open(name: interface, persistent: persistent)
        } catch {
            throw OpenError(description: describe(error, interface: interface, entry: entry))
        }
        if let mac {
            do {
                let octets = mac.split(separator: ":").compactMap { UInt8($0, radix: 16) }
                try TunTap.setHardwareAddress(name: interface, octets)
            } catch {
                Descriptors.close(fd)
                throw OpenError(description: "\(entry).mac: cannot set \(mac) on '\(interface)': \(error.reason)")
            }
        }
        // IFF_UP so frames flow at once; failure is harmless (the test or admin may do it later).
        try? TunTap.bringUp(name: interface)
        return fd
    }

    /// The configuration error for a tap that could not be opened, by the step that failed.
    static func describe(_ error: SystemError, interface: String, entry: String) -> String {
        let noPermission = error.code == SystemError.permissionDenied || error.code == SystemError.accessDenied
        switch error.operation {
        case "open /dev/net/tun":
            if noPermission {
                return
                    "\(entry): cannot create tap '\(interface)': no permission to open /dev/net/tun (run as root or with CAP_NET_ADMIN)"
            }
            if SystemError.noDevice.contains(error.code) {
                return
                    "\(entry): cannot create tap '\(interface)': /dev/net/tun does not exist (load the tun module, or give a container --device /dev/net/tun)"
            }
            return "\(entry): cannot open /dev/net/tun: \(error.reason)"
        case "TUNSETIFF":
            let reason =
                noPermission
                ? "no permission (the hub needs CAP_NET_ADMIN to create a tap interface)"
                : error.code == SystemError.busy
                    ? "the interface exists and is not a free tap (another process holds it?)" : error.reason
            return "\(entry): cannot create tap '\(interface)': TUNSETIFF: \(reason)"
        default:
            return "\(entry).persistent: \(error.operation) on '\(interface)': \(error.reason)"
        }
    }

    /// The kernel's drop counters for the interface (`/sys/class/net/IF/statistics`), read when ports are listed,
    /// never per frame. `txDropped`: frames the host sent towards the hub that the tap's queue dropped (the hub
    /// read too slowly); `rxDropped`: frames the hub wrote that the kernel dropped. `nil` when unreadable.
    static func kernelDrops(_ interface: String) -> (txDropped: UInt64, rxDropped: UInt64)? {
        guard let tx = readCounter(interface, "tx_dropped"), let rx = readCounter(interface, "rx_dropped") else {
            return nil
        }
        return (tx, rx)
    }

    private static func readCounter(_ interface: String, _ name: String) -> UInt64? {
        // The name was validated (no '/'): the path stays inside the interface's statistics directory.
        guard let bytes = try? Files.readSmall("/sys/class/net/\(interface)/statistics/\(name)", limit: 32),
            !bytes.isEmpty
        else { return nil }
        return UInt64(String(decoding: bytes.prefix { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self))
    }
}
