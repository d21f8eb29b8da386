import Glibc

/// Opens (creating if needed) a Linux TAP interface through `/dev/net/tun` (TUNSETIFF with
/// IFF_TAP | IFF_NO_PI) and brings it up. Frames are read and written whole, one per syscall.
enum TapInterface {
    /// _IOW('T', 202, int)
    static let tunSetIff: UInt = 0x4004_54CA
    static let iffTap: Int16 = 0x0002
    static let iffNoPi: Int16 = 0x1000
    static let iffUp: Int16 = 0x1
    /// SIOCGIFFLAGS / SIOCSIFFLAGS.
    static let getFlags: UInt = 0x8913
    static let setFlags: UInt = 0x8914
    /// _IOW('T', 203, int)
    static let tunSetPersist: UInt = 0x4004_54CB
    /// SIOCSIFHWADDR.
    static let setHardwareAddress: UInt = 0x8924
    /// ARPHRD_ETHER, the address family of an Ethernet hardware address.
    static let arpHardwareEther: UInt16 = 1

    struct OpenError: Error, CustomStringConvertible {
        let description: String
    }

    /// Returns a non-blocking descriptor for the interface; `entry` names the configuration entry in errors.
    /// `mac` (validated `aa:bb:cc:dd:ee:ff`) is set before the interface comes up; `persistent` keeps the interface
    /// after the hub closes it (TUNSETPERSIST), so a restarted hub finds the same interface with its plumbing.
    static func open(interface: String, entry: String, mac: String? = nil, persistent: Bool = false) throws(OpenError)
        -> Int32
    {
        let fd = Glibc.open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            switch code {
            case ENOENT, ENODEV, ENXIO:
                throw OpenError(
                    description:
                        "\(entry): cannot create tap '\(interface)': /dev/net/tun does not exist (load the tun module, or give a container --device /dev/net/tun)"
                )
            case EACCES, EPERM:
                throw OpenError(
                    description:
                        "\(entry): cannot create tap '\(interface)': no permission to open /dev/net/tun (run as root or with CAP_NET_ADMIN)"
                )
            default:
                throw OpenError(
                    description: "\(entry): cannot open /dev/net/tun: \(String(cString: strerror(code)))")
            }
        }
        var request = InterfaceRequest(name: interface)
        request.flags = iffTap | iffNoPi
        if request.ioctl(fd, tunSetIff) != 0 {
            let code = errno
            Glibc.close(fd)
            let reason =
                code == EPERM || code == EACCES
                ? "no permission (the hub needs CAP_NET_ADMIN to create a tap interface)"
                : code == EBUSY
                    ? "the interface exists and is not a free tap (another process holds it?)"
                    : String(cString: strerror(code))
            throw OpenError(description: "\(entry): cannot create tap '\(interface)': TUNSETIFF: \(reason)")
        }
        if persistent && Glibc.ioctl(fd, tunSetPersist, 1) != 0 {
            let code = errno
            Glibc.close(fd)
            throw OpenError(
                description: "\(entry).persistent: TUNSETPERSIST on '\(interface)': \(String(cString: strerror(code)))")
        }
        if let mac {
            let code = setMAC(interface, mac)
            if code != 0 {
                Glibc.close(fd)
                throw OpenError(
                    description: "\(entry).mac: cannot set \(mac) on '\(interface)': \(String(cString: strerror(code)))"
                )
            }
        }
        bringUp(interface)
        return fd
    }

    /// Sets the interface's hardware address; returns 0 or the errno. The text was validated by the configuration.
    private static func setMAC(_ interface: String, _ mac: String) -> Int32 {
        let octets = mac.split(separator: ":").compactMap { UInt8($0, radix: 16) }
        guard octets.count == 6 else { return EINVAL }
        let sock = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard sock >= 0 else { return errno }
        defer { Glibc.close(sock) }
        var request = InterfaceRequest(name: interface)
        // struct sockaddr at offset 16: sa_family (host order), then the address in sa_data.
        request.bytes[16] = UInt8(arpHardwareEther & 0xFF)
        request.bytes[17] = UInt8(arpHardwareEther >> 8)
        for (index, octet) in octets.enumerated() { request.bytes[18 + index] = octet }
        return request.ioctl(sock, setHardwareAddress) == 0 ? 0 : errno
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
        let fd = Glibc.open("/sys/class/net/\(interface)/statistics/\(name)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        // SAFETY: reads at most buffer.count bytes into the buffer.
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return UInt64(String(decoding: buffer[0..<count].prefix { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self))
    }

    /// Sets IFF_UP so frames flow at once; failure is harmless (the test or admin may do it later).
    private static func bringUp(_ interface: String) {
        let sock = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard sock >= 0 else { return }
        defer { Glibc.close(sock) }
        var request = InterfaceRequest(name: interface)
        guard request.ioctl(sock, getFlags) == 0 else { return }
        request.flags |= iffUp
        _ = request.ioctl(sock, setFlags)
    }

    /// `struct ifreq` as bytes: the name in the first 16, the flags (a short) right after. Using raw bytes
    /// avoids depending on how the C union is imported.
    struct InterfaceRequest {
        var bytes = [UInt8](repeating: 0, count: 40)

        init(name: String) {
            for (index, byte) in name.utf8.prefix(15).enumerated() { bytes[index] = byte }
        }

        var flags: Int16 {
            get { Int16(bitPattern: UInt16(bytes[16]) | UInt16(bytes[17]) << 8) }
            set {
                let raw = UInt16(bitPattern: newValue)
                bytes[16] = UInt8(raw & 0xFF)
                bytes[17] = UInt8(raw >> 8)
            }
        }

        mutating func ioctl(_ fd: Int32, _ request: UInt) -> Int32 {
            // SAFETY: the buffer is 40 bytes, the size of struct ifreq on Linux; the kernel reads and writes within it.
            bytes.withUnsafeMutableBytes { Glibc.ioctl(fd, request, $0.baseAddress!) }
        }
    }
}
